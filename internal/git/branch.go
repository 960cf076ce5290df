package git

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// logCommit is one commit of `git log` output.
type logCommit struct {
	id string
	commitInfo
	files []string
}

// logFormat starts every commit with a record separator and the full SHA,
// which is how the parser tells a commit header from a file name in -z
// output.
const logFormat = "--format=%x1e%H%x1f%an%x1f%ae%x1f%s"

// errStop ends reading git's output early on purpose.
var errStop = errors.New("stop")

// branchHistory returns up to limit commits of head's first-parent
// history, newest first. Path-filtered selections read a shared history
// instead (history.go).
func (c *Cache) branchHistory(ctx context.Context, dir, head string, limit int) ([]logCommit, error) {
	args := []string{"log", "--first-parent", "-z", logFormat, "-n", strconv.Itoa(limit), head, "--"}
	var commits []logCommit
	err := c.stream(ctx, dir, args, func(r *bufio.Reader) error {
		return parseLog(r, func(lc logCommit) bool {
			commits = append(commits, lc)
			return len(commits) < limit
		})
	})
	return commits, err
}

// parseLogHeader recognises "\x1e<40 or 64 hex>\x1f<name>\x1f<email>\x1f<subject>".
func parseLogHeader(tok []byte) (*logCommit, bool) {
	if len(tok) < 42 || tok[0] != 0x1e {
		return nil, false
	}
	f := strings.SplitN(string(tok[1:]), "\x1f", 4)
	if len(f) != 4 || !isHex(f[0]) {
		return nil, false
	}
	return &logCommit{id: f[0], commitInfo: newCommitInfo(f[3], f[1], f[2])}, true
}

func isHex(s string) bool {
	if len(s) != 40 && len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !strings.ContainsRune("0123456789abcdef", rune(s[i])) {
			return false
		}
	}
	return true
}

// stream runs a local git command and hands its output to consume as it
// arrives. When consume returns errStop, git is killed: the caller has what
// it needs and the rest of a long history is never read.
func (c *Cache) stream(ctx context.Context, dir string, args []string, consume func(*bufio.Reader) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	countProcess(args)
	cmd := exec.CommandContext(ctx, c.opts.GitBinary, args...)
	cmd.Dir = dir
	cmd.Env = c.gitEnv(c.baseConfig())
	var stderr bytes.Buffer
	cmd.Stderr = &limitedWriter{w: &stderr, n: 64 << 10}
	killProcessGroup(cmd)
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.StdoutPipe()
	if err != nil {
		return fmt.Errorf("git %s: %w", args[0], err)
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("git %s: %w", args[0], err)
	}
	if cerr := consume(bufio.NewReaderSize(out, 64<<10)); cerr != nil {
		// git may be blocked writing output nobody reads any more.
		cancel()
		_ = cmd.Wait()
		if errors.Is(cerr, errStop) {
			return nil
		}
		return fmt.Errorf("git %s: read output: %w", args[0], cerr)
	}
	if werr := cmd.Wait(); werr != nil {
		return fmt.Errorf("git %s: %w: %s", args[0], werr, strings.TrimSpace(stderr.String()))
	}
	return nil
}
