// Package image discovers the images of container registry repositories
// that Warehouses subscribe to: it lists tags, applies a subscription's
// filters and selection strategy, and resolves the chosen tags to digests.
//
// One Client serves a whole controller process. Its requests to each
// registry host go through a shared, fair throttle (package throttle), and
// what it learns about immutable manifests is cached by digest, so a poll
// that finds nothing new costs a tag list and one HEAD per candidate
// returned.
//
// Requests travel over HTTPS, except to registries on loopback, which may
// speak plain HTTP; credentials are never sent over plain HTTP to any other
// host. Errors wrap the kinds in package sourceerr so controllers can say
// what to fix.
package image
