package schema

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"
)

// TestWriteScalar checks the fast paths of writeScalar against
// encoding/json, which they must match byte for byte.
func TestWriteScalar(t *testing.T) {
	for _, v := range []any{
		nil, true, false, 0, -7, int32(math.MinInt32), int64(math.MaxInt64), int64(math.MinInt64),
		"", "plain", "Corolla 2024-01-02T03:04:05Z", `quote " here`, `back\slash`,
		"<script>&amp;</script>", "tab\tnew\nline\x00nul\x1f", "\x7f", "café", "日本", "\u2028\u2029",
		"bad utf8 \xff\xfe", 1.5, float32(2.25), []string{"a"},
	} {
		var buf bytes.Buffer
		if err := writeScalar(&buf, v); err != nil {
			t.Fatalf("writeScalar(%#v): %v", v, err)
		}
		want, _ := json.Marshal(v)
		if got := buf.String(); got != string(want) {
			t.Errorf("writeScalar(%#v) = %s, want %s", v, got, want)
		}
	}
}
