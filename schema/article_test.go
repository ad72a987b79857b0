package schema

import "testing"

func TestArticle(t *testing.T) {
	for name, want := range map[string]string{
		"ExtraType": "an", "Int": "an", "OrderBy": "an", "ToyotaOrderBy": "a", "Role": "a", "": "a",
	} {
		if got := article(name); got != want {
			t.Errorf("article(%q) = %q, want %q", name, got, want)
		}
	}
}
