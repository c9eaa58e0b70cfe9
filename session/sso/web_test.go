package sso

import (
	"net/url"
	"strings"
	"testing"
)

func TestLocalPath(t *testing.T) {
	for in, want := range map[string]string{
		"/me": "/me", "/a?b=c": "/a?b=c", "": "/", "//evil.example/": "/", "/\\evil.example": "/",
		"https://evil.example": "/", "/\t/evil": "/", "/%2F%2Fevil": "/%2F%2Fevil", "me": "/",
		"/" + strings.Repeat("a", 600): "/", "javascript:alert(1)": "/",
	} {
		if got := LocalPath(in); got != want {
			t.Errorf("LocalPath(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzLocalPath: the return path after sign-in is always local.
func FuzzLocalPath(f *testing.F) {
	for _, s := range []string{"/me", "//evil.example/", "/\\evil.example", "https://evil.example", "/a?b=c", "", "/%2F%2Fevil", "/\t/evil"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		got := LocalPath(p)
		u, err := url.Parse(got)
		if err != nil || u.IsAbs() || u.Host != "" || !strings.HasPrefix(got, "/") || strings.HasPrefix(got, "//") || strings.Contains(got, "\\") {
			t.Fatalf("LocalPath(%q) = %q is not local", p, got)
		}
	})
}
