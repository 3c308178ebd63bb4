package encoding

import (
	"errors"
	"fmt"
	"io"
)

// ErrCorrupt is wrapped by every error a Decode* function returns: the block
// is malformed, truncated, of another value type, or claims too many values.
var ErrCorrupt = errors.New("encoding: corrupt block")

// MaxValues is the largest number of values one block may hold. Decoders
// refuse a header that claims more, which bounds what they allocate; encoders
// panic if given more (a caller bug: the storage engine cuts blocks of about
// 1,000 values).
const MaxValues = 1 << 16

// errTruncated is returned when a block ends early; it is both ErrCorrupt and
// io.ErrUnexpectedEOF.
var errTruncated = fmt.Errorf("%w: %w", ErrCorrupt, io.ErrUnexpectedEOF)

// corruptf returns an error wrapping ErrCorrupt with a formatted reason.
func corruptf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrCorrupt}, args...)...)
}

// checkCount panics when an encoder is handed more than MaxValues values.
func checkCount(n int) {
	if n > MaxValues {
		panic(fmt.Sprintf("BUG: encoding: %d values in one block exceed MaxValues (%d)", n, MaxValues))
	}
}
