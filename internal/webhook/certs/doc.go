// Package certs gives the admission webhook server its TLS without an
// external certificate issuer: it generates a private CA and a serving
// certificate signed by it, keeps both in one Secret so that every
// controller replica serves the same certificate, and renews them well
// before they expire.
//
// The Secret is the single source of truth. Replicas coordinate only
// through it: a replica creates it when it is missing, updates it with the
// resourceVersion it read, and, when another replica wrote first, re-reads
// it and adopts what it finds. A renewed CA does not replace the old one in
// the trust bundle until the old one expires, so certificates that other
// replicas still serve stay trusted while they catch up.
package certs
