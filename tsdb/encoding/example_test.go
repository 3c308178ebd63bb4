package encoding_test

import (
	"fmt"

	"github.com/strata-db/strata/tsdb/encoding"
)

func ExampleAppendTimestamps() {
	ts := []int64{1767225600000000000, 1767225610000000000, 1767225620000000000}
	block := encoding.AppendTimestamps(nil, ts)
	got, err := encoding.DecodeTimestamps(nil, block)
	fmt.Println(len(block), "bytes", got, err)
	// Output: 16 bytes [1767225600000000000 1767225610000000000 1767225620000000000] <nil>
}

func ExampleDecodeIntegers() {
	var buf []byte
	var vals []int64
	for _, column := range [][]int64{{58, 58, 57, 58}, {2, 2, 0, 1}} {
		buf = encoding.AppendIntegers(buf[:0], column) // reuse buf
		var err error
		if vals, err = encoding.DecodeIntegers(vals[:0], buf); err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(vals)
	}
	// Output:
	// [58 58 57 58]
	// [2 2 0 1]
}
