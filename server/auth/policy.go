package auth

import (
	_ "embed"
	"errors"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Password length limits, in characters (runes), not bytes.
const (
	MinPasswordLen = 12
	MaxPasswordLen = 1024
)

// Reasons a password is refused; WeakPasswordError.Reason is one of these.
// They are safe to show to the user.
const (
	ReasonTooShort = "must be at least 12 characters"
	ReasonTooLong  = "must be at most 1024 characters"
	ReasonNotText  = "must be valid UTF-8 text"
	ReasonUsername = "is too close to the username"
	ReasonCommon   = "is a common password"
	ReasonPattern  = "is mostly a keyboard pattern, sequence or repetition"
)

const (
	minContextRunes = 4 // shorter usernames are not searched for inside passwords
	minWalkRun      = 3 // a walk, sequence or repeat run this long counts as pattern
	minFreeRunes    = 6 // fewer runes than this outside pattern runs → ReasonPattern
)

// ErrWeakPassword matches every *WeakPasswordError with errors.Is.
var ErrWeakPassword = errors.New("auth: weak password")

// WeakPasswordError is returned by CheckPassword; Reason says why, for the
// 400 weak_password answer.
type WeakPasswordError struct {
	Reason string
}

// Error implements error.
func (e *WeakPasswordError) Error() string { return "auth: weak password: " + e.Reason }

// Is lets errors.Is(err, ErrWeakPassword) match.
func (e *WeakPasswordError) Is(target error) bool { return target == ErrWeakPassword }

// commonPasswords is the embedded block list (see the file's header).
//
//go:embed common-passwords.txt
var commonPasswords string

// CheckPassword applies the owner password policy (SECURITY.md #1): 12 to 1024
// characters, not close to the username, not a common password or a simple
// variation of one, not mostly a keyboard walk, sequence or repetition. It
// returns nil or a *WeakPasswordError. Case is folded only for these checks;
// the password itself is hashed exactly as given.
//
// The checks are local and cheap (well under a millisecond for 1024
// characters). zxcvbn (trustelem/zxcvbn) was measured and left out: it adds
// ~7 MB of heap at program start and took 0.3 s for a 256-character and 14 s
// for a 1000-character input — a denial-of-service lever on a 2-core box.
func CheckPassword(pw, username string) error {
	if !utf8.ValidString(pw) {
		return &WeakPasswordError{Reason: ReasonNotText}
	}
	n := utf8.RuneCountInString(pw)
	if n < MinPasswordLen {
		return &WeakPasswordError{Reason: ReasonTooShort}
	}
	if n > MaxPasswordLen {
		return &WeakPasswordError{Reason: ReasonTooLong}
	}
	lower := strings.ToLower(pw)
	squeezed := squeeze(lower)
	if closeToUsername(lower, squeezed, username) {
		return &WeakPasswordError{Reason: ReasonUsername}
	}
	if isCommon(lower, squeezed) {
		return &WeakPasswordError{Reason: ReasonCommon}
	}
	if isPattern(lower) {
		return &WeakPasswordError{Reason: ReasonPattern}
	}
	return nil
}

// squeeze drops spaces and the separators people put between words.
func squeeze(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) || r == '-' || r == '_' || r == '.' {
			return -1
		}
		return r
	}, s)
}

// isCommon reports whether the password is a block-list entry, possibly
// repeated, l33ted, or padded with digits and symbols.
func isCommon(lower, squeezed string) bool {
	cands := []candidate{newCandidate(lower), newCandidate(squeezed)}
	for line := range strings.SplitSeq(commonPasswords, "\n") {
		e := strings.TrimSpace(line)
		if e == "" || e[0] == '#' {
			continue
		}
		for _, c := range cands {
			if c.variantOf(e) {
				return true
			}
		}
	}
	return false
}

// candidate is a folded password with the length of its leading run of
// non-letters (len(s) when it has no letter at all).
type candidate struct {
	s    string
	lead int
}

func newCandidate(s string) candidate {
	return candidate{s: s, lead: len(s) - len(strings.TrimLeftFunc(s, notLetter))}
}

// variantOf reports whether c is word (compared l33t-aware), repeated one or
// more times, with nothing but non-letters before and after it: "Summer2024!!",
// "!!dr4gon", "passwordpassword".
func (c candidate) variantOf(word string) bool {
	if len(word) == 0 || len(c.s) < len(word) {
		return false
	}
	// Every letter of c must fall inside the matched copies, so some copy
	// overlaps the first letter: starting within one word length before it
	// loses nothing (earlier copies are non-letters and can count as padding).
	lo, hi := max(0, c.lead-len(word)+1), c.lead
	if c.lead == len(c.s) { // no letters at all: digits and symbols only
		if strings.IndexFunc(word, unicode.IsLetter) < 0 {
			return strings.Contains(c.s, word)
		}
		lo, hi = 0, min(c.lead, 2*len(word)) // a l33t word ("5ecr37") near the start
	}
	for i := lo; i <= hi && i+len(word) <= len(c.s); i++ {
		j := i
		for j+len(word) <= len(c.s) && leetEqual(c.s[j:j+len(word)], word) {
			j += len(word)
		}
		if j > i && strings.IndexFunc(c.s[j:], unicode.IsLetter) < 0 {
			return true
		}
	}
	return false
}

func notLetter(r rune) bool { return !unicode.IsLetter(r) }

// leetEqual compares a password fragment with a lowercase ASCII word,
// undoing the usual l33t substitutions in the fragment.
func leetEqual(frag, word string) bool {
	for i := range len(word) {
		if frag[i] != word[i] && unleet(frag[i]) != word[i] {
			return false
		}
	}
	return true
}

func unleet(b byte) byte {
	switch b {
	case '0':
		return 'o'
	case '1', '!', '|':
		return 'i'
	case '3':
		return 'e'
	case '4', '@':
		return 'a'
	case '5', '$':
		return 's'
	case '7', '+':
		return 't'
	case '8':
		return 'b'
	case '9':
		return 'g'
	}
	return b
}

// closeToUsername reports whether the password contains the username (or the
// local part of an e-mail username), forwards, reversed or l33ted, or is
// within a small edit distance of it.
func closeToUsername(lower, squeezed, username string) bool {
	u := strings.ToLower(strings.TrimSpace(username))
	contexts := []string{u}
	if local, _, ok := strings.Cut(u, "@"); ok {
		contexts = append(contexts, local)
	}
	for _, ctx := range contexts {
		n := utf8.RuneCountInString(ctx)
		if n == 0 {
			continue
		}
		if n >= minContextRunes {
			rev := reverse(ctx)
			for _, c := range []string{lower, squeezed} {
				if strings.Contains(c, ctx) || strings.Contains(c, rev) || leetContains(c, ctx) {
					return true
				}
			}
		}
		limit := max(2, n/4)
		if abs(utf8.RuneCountInString(squeezed)-n) <= limit && editDistance(squeezed, ctx) <= limit {
			return true
		}
	}
	return false
}

// leetContains reports whether some window of c equals word after undoing
// l33t; word is only compared byte-wise, so non-ASCII words match exactly.
func leetContains(c, word string) bool {
	for i := 0; i+len(word) <= len(c); i++ {
		if leetEqual(c[i:i+len(word)], word) {
			return true
		}
	}
	return false
}

func reverse(s string) string {
	r := []rune(s)
	for i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {
		r[i], r[j] = r[j], r[i]
	}
	return string(r)
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// editDistance is the Levenshtein distance between a and b, in runes.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

// isPattern reports whether the password is mostly made of keyboard walks,
// alphabet or digit sequences, runs of one character or a short repeated
// unit, leaving fewer than minFreeRunes characters of anything else.
func isPattern(lower string) bool {
	r := []rune(lower)
	if distinct(r) <= 3 || shortPeriod(r) {
		return true
	}
	covered := make([]bool, len(r))
	mark := func(step func(a, b rune) bool) {
		start := 0
		for i := 1; i <= len(r); i++ {
			if i < len(r) && step(r[i-1], r[i]) {
				continue
			}
			if i-start >= minWalkRun {
				for k := start; k < i; k++ {
					covered[k] = true
				}
			}
			start = i
		}
	}
	// Each kind of run is marked on its own: chaining kinds ("7uv": a key
	// step then a sequence step) flagged 1 in 1500 random passwords.
	mark(keyStep)
	mark(padStep)
	mark(func(a, b rune) bool { return seqStep(a, b) && b > a })
	mark(func(a, b rune) bool { return seqStep(a, b) && b < a })
	mark(func(a, b rune) bool { return a == b })
	free := 0
	for _, c := range covered {
		if !c {
			free++
		}
	}
	return free < minFreeRunes
}

func distinct(r []rune) int {
	seen := make(map[rune]struct{}, 8)
	for _, c := range r {
		seen[c] = struct{}{}
	}
	return len(seen)
}

// shortPeriod reports whether r is a unit of at most 5 runes repeated (the
// last copy may be partial), e.g. "abcdeabcdeab".
func shortPeriod(r []rune) bool {
	for p := 1; p <= 5 && 2*p <= len(r); p++ {
		ok := true
		for i := p; i < len(r); i++ {
			if r[i] != r[i-p] {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// seqStep: consecutive letters or digits, either direction (abc, 987).
func seqStep(a, b rune) bool {
	if (a >= 'a' && a <= 'z' && b >= 'a' && b <= 'z') || (a >= '0' && a <= '9' && b >= '0' && b <= '9') {
		return a-b == 1 || b-a == 1
	}
	return false
}

// keyStep: b is the left/right neighbour of a on a US QWERTY keyboard, or
// directly above/below it in the slanted column (1qaz, 2wsx). Diagonal
// neighbours are left out: they made ordinary words ("dresses") look like walks.
func keyStep(a, b rune) bool {
	ra, ca, oka := keyPos(a)
	rb, cb, okb := keyPos(b)
	if !oka || !okb {
		return false
	}
	return (ra == rb && abs(ca-cb) == 1) || (ca == cb && abs(ra-rb) == 1)
}

// keyPos returns the row and slanted column of a key, with shifted symbols
// mapped to their key.
func keyPos(c rune) (row, col int, ok bool) {
	const (
		rows    = "`1234567890-=|qwertyuiop[]\\|asdfghjkl;'|zxcvbnm,./"
		shifted = "~!@#$%^&*()_+|QWERTYUIOP{}||ASDFGHJKL:\"|ZXCVBNM<>?"
	)
	if i := strings.IndexRune(shifted, c); i >= 0 && c != '|' {
		c = rune(rows[i])
	}
	for r, line := range strings.Split(rows, "|") {
		if i := strings.IndexRune(line, c); i >= 0 {
			if r == 0 {
				i-- // the number row sits half a key left of the letters
			}
			return r, i, true
		}
	}
	return 0, 0, false
}

// padStep: neighbouring keys on a numeric keypad (789/456/123).
func padStep(a, b rune) bool {
	const pad = "789456123"
	i, j := strings.IndexRune(pad, a), strings.IndexRune(pad, b)
	if i < 0 || j < 0 {
		return false
	}
	ri, ci, rj, cj := i/3, i%3, j/3, j%3
	return (ri == rj && abs(ci-cj) == 1) || (ci == cj && abs(ri-rj) == 1)
}
