// Package httpcheck makes the HTTP checks of a Stage's verification.
//
// A check's URL comes from whoever may edit a Stage, and the requests are
// made from inside the cluster with the controller's network position, so
// the Client connects only where the controller's outbound address policy
// (package egress) allows: by default public addresses only, checked at
// each dial after DNS resolution, so neither a DNS answer that changes
// between measurements nor a redirect can reach an address the policy
// refuses. Redirects are followed only to the URL's own host and port.
//
// What a check reports (CheckResult.Message, which lands in the Stage's
// status) never quotes the response: only its status code, the type of
// what an expression gave, and sizes, so that a check cannot be used to
// read what a service only the controller can reach would answer.
//
// Compile turns an HTTPCheck into a Program once; Measure makes one request
// and judges it; Run makes all of a check's measurements and reports the
// running totals as a kargoapi.CheckResult.
package httpcheck
