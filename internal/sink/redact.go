package sink

import (
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"
)

// maxReplyText bounds what of an endpoint's answer goes into an error: an
// errmsg is a line of explanation, not a page.
const maxReplyText = 200

// tokenSegment is the shortest path segment taken for a token: Slack and
// Feishu put the robot's key in the path (…/hook/0f3a…), the words of a
// path (send, webhook, open-apis) are shorter.
const tokenSegment = 12

// redactor removes from text an endpoint sent back everything that would
// let its reader post to the robot: the URL, its path and query, each of
// their values (key, access_token, timestamp, sign…), the secret and what
// was signed with it, as written and escaped.
type redactor struct{ needles []string }

// redactor is the redactor of one posted message.
func (w *Webhook) redactor(msg signed) redactor {
	var needles []string
	for _, raw := range []string{w.url, msg.target} {
		needles = append(needles, urlParts(raw)...)
	}
	needles = append(needles, w.secret)
	needles = append(needles, msg.secrets...)
	for _, n := range slices.Clone(needles) {
		needles = append(needles, url.QueryEscape(n), url.PathEscape(n))
		if u, err := url.QueryUnescape(n); err == nil {
			needles = append(needles, u)
		}
	}
	needles = slices.DeleteFunc(needles, func(n string) bool { return n == "" })
	// the longest first: the whole URL goes before its parts do, so that
	// no part of it is left around a shorter match
	slices.SortFunc(needles, func(a, b string) int {
		if d := len(b) - len(a); d != 0 {
			return d
		}
		return strings.Compare(a, b)
	})
	return redactor{slices.Compact(needles)}
}

// urlParts are the parts of a webhook URL that hold or carry its key.
func urlParts(raw string) []string {
	parts := []string{raw}
	u, err := url.Parse(raw)
	if err != nil {
		return parts
	}
	parts = append(parts, u.RawQuery)
	// not a bare "/": it holds nothing, and would eat every slash
	if uri := u.RequestURI(); uri != "/" {
		parts = append(parts, uri)
	}
	if len(u.Path) > 1 {
		parts = append(parts, u.Path, u.EscapedPath())
	}
	for _, seg := range strings.Split(u.Path, "/") {
		if len(seg) >= tokenSegment {
			parts = append(parts, seg)
		}
	}
	for _, kv := range strings.Split(u.RawQuery, "&") {
		_, v, _ := strings.Cut(kv, "=")
		parts = append(parts, v)
	}
	if u.User != nil {
		pw, _ := u.User.Password()
		parts = append(parts, u.User.String(), u.User.Username(), pw)
	}
	return parts
}

// clean is text from the endpoint fit for an error or a log: the secrets
// out, at most maxReplyText bytes of it, control and bidi characters
// escaped. The secrets go first: a cut could leave half a key that no
// longer matches.
func (r redactor) clean(text string) string {
	for _, n := range r.needles {
		text = replaceFold(text, n, "[redacted]")
	}
	if len(text) > maxReplyText {
		cut := maxReplyText
		for cut > 0 && !utf8.RuneStart(text[cut]) {
			cut--
		}
		text = text[:cut] + "…"
	}
	return string(AppendSafe(nil, text))
}

// replaceFold replaces needle in s, ignoring ASCII case when the needle is
// long enough to be a key: an endpoint may echo a percent-escape as %2b
// where it got %2B. A short needle is replaced as it is, so that it does
// not eat every letter it happens to be.
func replaceFold(s, needle, with string) string {
	hay, pin := s, needle
	if len(needle) >= 8 {
		hay, pin = asciiLower(s), asciiLower(needle)
	}
	if !strings.Contains(hay, pin) {
		return s
	}
	var b strings.Builder
	for {
		i := strings.Index(hay, pin)
		if i < 0 {
			break
		}
		b.WriteString(s[:i])
		b.WriteString(with)
		s, hay = s[i+len(pin):], hay[i+len(pin):]
	}
	b.WriteString(s)
	return b.String()
}

// asciiLower lowers ASCII letters only, so that byte offsets stay those of
// s.
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
