// Package git discovers the commits and tags that Warehouses subscribe to,
// sharing one bare mirror and one refs listing per repository among every
// subscriber.
//
// # Fan-in
//
// Many Warehouses commonly watch the same repository (a monorepo with one
// Warehouse per application). A Cache keeps one partial (blob-less) bare
// mirror per repository and lists the remote's refs at most once per maxAge
// for all of its callers: concurrent callers share one in-flight refresh,
// later callers within maxAge reuse the last listing, and Invalidate (a
// webhook said the repository changed) forces the next caller to list again.
//
// Refreshes coalesce. A refresh request carries the time it was made (the
// refresh token: when the push arrived, when `kargo refresh` was run), and
// InvalidateBefore(url, t) means "a listing that began at or after t will
// do": the last one, the one under way, or the next. Listings of one mirror
// run one at a time, and callers that need a newer one than the one under
// way all wait for the same next one, which starts when the current one
// ends; a listing asked for by a refresh also waits until CoalesceWindow
// after the request, so that a burst of requests (a hundred Warehouses
// refreshed one after another) shares it. Any number of refreshes of one
// repository thus cost one listing, or two when one arrives while a listing
// is under way.
//
// A refresh is one `git fetch --prune` of branch heads and tags. Its ref
// advertisement is the listing, and git downloads objects only when an
// advertised ref points at something the mirror lacks, so an unchanged
// repository costs one small request per interval and a changed one costs a
// single fetch, however many subscribers it has. The remote's default branch
// comes from the clone that creates the mirror. Every fetch also brings the
// remote HEAD's commit, and a `git ls-remote --symref` re-resolves the default
// branch only when that commit stops matching the known default branch.
//
// Listing with `git ls-remote --symref` before every fetch would cost a
// second round trip whenever something changed. With git 2.39 it would also
// list every ref of the remote: ls-remote sends protocol v2 ref prefixes only
// for --heads/--tags, which hide HEAD. On hosts that advertise pull-request
// refs (GitHub's refs/pull/*), that is megabytes per poll of a busy
// repository. The fetch asks only for refs/heads/, refs/tags/ and HEAD.
//
// # Partial clone
//
// Mirrors are cloned with --filter=blob:none. Path filters need commits and
// trees only (`git log --name-only --no-renames`), and file contents are
// usually most of a repository's size: on a synthetic repository with 3,000
// commits, the blob-less clone moved 2.7 MiB in 0.16 s, the full clone
// 37.6 MiB in 1.0 s. --filter=tree:0 is smaller still but makes every path
// query fetch trees lazily, one request per commit. Mirrors never keep the
// remote's URL in their configuration, so a command that needed a missing
// blob would fail instead of quietly going to the network.
//
// # Credentials
//
// Credentials reach git as an Authorization header in GIT_CONFIG_* environment
// variables of the git process. They never appear in a URL, an argument list
// (visible to every user through ps), a file, or an error message. They are
// never sent over plain http://, except to loopback addresses (127.0.0.0/8,
// ::1, localhost): tests and `kargo local` serve repositories there, and
// traffic that never leaves the host cannot be read on the network.
//
// Mirrors are partitioned by credentials and by TLS verification as well as
// by URL. Sharing one mirror between projects with different credentials
// would let a project without access read a private repository through
// another project's Secret. For the same reason file:// URLs are refused
// unless Options.AllowFileURLs is set.
//
// # Outbound addresses
//
// git's connections obey the controller's outbound address policy (package
// egress) like the controller's own: every network operation runs with
// http.proxy pointing at the policy's in-process proxy, with credentials of
// its own, and the proxy dials through the policy after resolving names
// itself, so a repository on loopback, a private or a metadata address, a
// name resolving to one, or a redirect to one is refused, and the caller
// gets the refusal rather than git's "proxy answered 403". Proxy variables
// of the environment (no_proxy included) are not passed to git. Only the
// http and https transports are allowed, and only in network operations:
// ssh and git:// would connect by themselves, out of the proxy's reach, and
// "ext::" and "fd::" run commands, so protocol.allow refuses them all.
//
// # Commits
//
// Cache.Commit writes to a repository through the same mirror: it fetches
// into it (under the mirror's lock, with the same credentials and TLS
// rules), checks the content out into a scratch directory with a private
// index, lets the caller edit it, and pushes one commit. Nothing is cloned
// per commit, and the mirror's refs are moved to the pushed commit, so the
// next commit and Discover need no fetch to see it.
//
// The mirror has no file contents (blobs). Before a checkout, Commit lists
// the blobs of the tree that the mirror lacks and fetches exactly those in
// one request, as git's own lazy fetch would but under the lock and with
// the cache's credentials; the mirror still has no remote URL, so nothing
// else can fetch behind the cache's back. Usually the tree is the one the
// previous commit wrote or read, and not even the local check runs.
// Scratch checkouts are kept between commits and brought to the next
// content by writing only the files that differ. Pushed objects are packed
// as the remote's (a promisor pack), which keeps later fetches from
// walking the whole mirror.
//
// Commits to one branch through one Cache take turns, and at most four per
// CPU run at once, since each is a dozen git processes; pushes are plain
// fast-forwards, so a commit that loses a race with another writer is
// rejected, and Commit fetches, edits the fresh content again and retries
// a bounded number of times. A commit may carry an idempotency trailer: when
// the branch already has a commit with it, nothing is done, which is how a
// promotion retried after a crash ends with exactly one commit. The check
// runs after the fetch of every attempt, before any edit. Paths that come
// from users go through ResolveInRepo, which refuses ".." and symlinks that
// leave the checkout.
//
// # Errors
//
// Errors wrap the sentinels of package sourceerr, classified from git's
// messages, name the repository without userinfo, and say what to do.
// ErrNoMatch (nothing passes the filters) means "nothing new" to a
// controller, not a failure. A failed listing is remembered for maxAge like
// a successful one, so a host that is down is asked once per interval, not
// once per subscriber.
package git
