// Package freight computes what identifies a piece of Freight: its name, the
// SHA-1 fingerprint of its artifacts, and its human-friendly
// adjective-animal alias.
package freight
