// Package httpcheck makes the HTTP checks of a Stage's verification.
//
// A check's URL comes from whoever may edit a Stage, and the requests are
// made from inside the cluster with the controller's network position, so
// the Client refuses link-local and cloud metadata addresses. It checks the
// address it is about to connect to, after DNS resolution, so neither a DNS
// answer that changes between measurements nor a redirect can reach an
// address the URL could not name directly. Loopback and private addresses
// stay allowed: in-cluster services live there.
//
// Compile turns an HTTPCheck into a Program once; Measure makes one request
// and judges it; Run makes all of a check's measurements and reports the
// running totals as a kargoapi.CheckResult.
package httpcheck
