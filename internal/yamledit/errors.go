package yamledit

import "errors"

var (
	// ErrKeyNotFound means the path names a key or index that the document
	// does not have. The message names the longest prefix of the path that
	// exists.
	ErrKeyNotFound = errors.New("key not found")

	// ErrNotScalar means the path names a mapping or a sequence where a
	// scalar value was expected.
	ErrNotScalar = errors.New("not a scalar value")

	// ErrUnsupported means the target exists but cannot be edited in place
	// safely, for example an alias, a block scalar or a multi-line plain
	// scalar. The message says what to edit by hand instead.
	ErrUnsupported = errors.New("cannot edit in place")

	// ErrInvalidYAML means the input does not parse as YAML; the message
	// carries the parser's line information.
	ErrInvalidYAML = errors.New("invalid YAML")

	// ErrMultipleDocuments means the file holds more than one YAML document,
	// which this package does not edit.
	ErrMultipleDocuments = errors.New("multiple YAML documents")

	// ErrDependencyNotFound means Chart.yaml has no dependency with the given
	// name and repository.
	ErrDependencyNotFound = errors.New("chart dependency not found")

	// ErrVerificationFailed means the edited file did not re-parse to the
	// original document with exactly the intended change. It indicates a bug
	// in this package or YAML it does not understand; nothing was written.
	ErrVerificationFailed = errors.New("edit verification failed")
)
