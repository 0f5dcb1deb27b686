package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"strings"
)

// StatusToken is the password of a master's status page, derived from the
// job's secret. It is not the secret itself: the page's clients send it
// with every request, in the clear without TLS, and one who sees it can
// read the job's status but cannot pass the workers' handshake.
func StatusToken(secret []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("gomr status page"))
	return hex.EncodeToString(m.Sum(nil))[:32]
}

// CheckToken reports whether r carries token, as a bearer token or as
// the password of HTTP basic authentication (under any user name).
func CheckToken(r *http.Request, token string) bool {
	h := r.Header.Get("Authorization")
	var got string
	if b, ok := strings.CutPrefix(h, "Bearer "); ok {
		got = strings.TrimSpace(b)
	} else if b, ok := strings.CutPrefix(h, "Basic "); ok {
		raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(b))
		if err != nil {
			return false
		}
		_, got, _ = strings.Cut(string(raw), ":")
	}
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(token)) == 1
}
