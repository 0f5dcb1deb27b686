package auth

import (
	"net/http"
	"testing"
)

func TestStatusToken(t *testing.T) {
	secret := []byte("0123456789abcdef-secret")
	token := StatusToken(secret)
	if len(token) != 32 || token == StatusToken([]byte("another secret, 16+")) {
		t.Fatalf("token %q: want 32 hex digits that depend on the secret", token)
	}
	if StatusToken(secret) != token {
		t.Fatal("StatusToken is not deterministic")
	}
	for _, tc := range []struct {
		name string
		set  func(r *http.Request)
		want bool
	}{
		{"none", func(r *http.Request) {}, false},
		{"bearer", func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+token) }, true},
		{"basic", func(r *http.Request) { r.SetBasicAuth("anyone", token) }, true},
		{"basic, wrong", func(r *http.Request) { r.SetBasicAuth("anyone", token[1:]) }, false},
		{"the secret itself", func(r *http.Request) { r.SetBasicAuth("x", string(secret)) }, false},
		{"bearer, empty", func(r *http.Request) { r.Header.Set("Authorization", "Bearer ") }, false},
		{"basic, garbled", func(r *http.Request) { r.Header.Set("Authorization", "Basic !!!") }, false},
	} {
		r, _ := http.NewRequest("GET", "http://x/", nil)
		tc.set(r)
		if got := CheckToken(r, token); got != tc.want {
			t.Errorf("%s: CheckToken = %v; want %v", tc.name, got, tc.want)
		}
	}
}
