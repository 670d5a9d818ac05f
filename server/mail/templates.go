package mail

import (
	"bytes"
	"embed"
	"fmt"
	htmltemplate "html/template"
	"strconv"
	"strings"
	texttemplate "text/template"
	"time"
	"unicode"
	"unicode/utf8"
)

//go:embed templates
var templateFS embed.FS

// The templates are parsed once when the package loads and only executed
// afterwards (Execute is safe for concurrent use); they are never modified.
// A parse error is a build defect that every test run would catch.
var (
	textTemplates = texttemplate.Must(texttemplate.ParseFS(templateFS, "templates/*.txt"))
	htmlTemplates = htmltemplate.Must(htmltemplate.ParseFS(templateFS, "templates/*.html"))
)

const (
	maxSubjectRunes = 160
	timeLayout      = "Monday, 2 January 2006 at 15:04 MST"
)

// ShareInvite is the email that gives a client a share link. The caller fills
// in To. studio, albumTitle and note are user text and are escaped in HTML;
// expires may be nil.
func ShareInvite(studio, albumTitle, url, note string, expires *time.Time) Message {
	studio, albumTitle = oneLine(studio), oneLine(albumTitle)
	data := map[string]any{
		"Studio": studio,
		"Album":  albumTitle,
		"URL":    url,
		"Note":   strings.TrimSpace(note),
	}
	if expires != nil {
		data["Expires"] = formatTime(*expires)
	}
	subject := fmt.Sprintf(`Photos shared with you: "%s"`, albumTitle)
	if studio != "" {
		subject = fmt.Sprintf(`%s shared "%s" with you`, studio, albumTitle)
	}
	return render("share_invite", subjectLine(subject), data)
}

// SelectionSubmitted tells the owner that a client submitted a selection. The
// client's name, email and note come from a public form: they are escaped, the
// name is flattened into the subject, and the email becomes Reply-To only when
// it is a single valid address.
func SelectionSubmitted(albumTitle, clientName, clientEmail string, count int, note string) Message {
	albumTitle, clientName = oneLine(albumTitle), oneLine(clientName)
	who := clientName
	if who == "" {
		who = "A client"
	}
	data := map[string]any{
		"Album":  albumTitle,
		"Client": who,
		"Email":  "",
		"Count":  count,
		"Photos": plural(count, "photo", "photos"),
		"Note":   strings.TrimSpace(note),
	}
	replyTo := ""
	if addr, ok := validAddress(clientEmail); ok {
		replyTo = addr
		data["Email"] = addr
	}
	subject := fmt.Sprintf(`%s selected %s in "%s"`, who, plural(count, "photo", "photos"), albumTitle)
	msg := render("selection_submitted", subjectLine(subject), data)
	msg.ReplyTo = replyTo
	return msg
}

// FirstView tells the owner that the share link labelled label on album
// albumTitle was opened for the first time, at at.
func FirstView(albumTitle, label string, at time.Time) Message {
	albumTitle, label = oneLine(albumTitle), oneLine(label)
	data := map[string]any{
		"Album": albumTitle,
		"Label": label,
		"At":    formatTime(at),
	}
	subject := fmt.Sprintf(`Your share of "%s" was opened for the first time`, albumTitle)
	if label != "" {
		subject = fmt.Sprintf(`Your share "%s" of "%s" was opened for the first time`, label, albumTitle)
	}
	return render("first_view", subjectLine(subject), data)
}

// render executes the text and HTML templates called name.
func render(name, subject string, data map[string]any) Message {
	var text, html bytes.Buffer
	if err := textTemplates.ExecuteTemplate(&text, name+".txt", data); err != nil {
		panic(fmt.Sprintf("mail: template %s.txt: %v", name, err)) // embedded template defect
	}
	if err := htmlTemplates.ExecuteTemplate(&html, name+".html", data); err != nil {
		panic(fmt.Sprintf("mail: template %s.html: %v", name, err)) // embedded template defect
	}
	return Message{Subject: subject, Text: text.String(), HTML: html.String()}
}

// oneLine flattens user text meant to be a single line (titles, names,
// labels): control characters and line separators become spaces, runs of
// white space collapse, and invalid UTF-8 is replaced.
func oneLine(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(s, "\uFFFD"))
	return strings.Join(strings.Fields(s), " ")
}

// subjectLine makes a header-safe subject: one line (CR and LF above all
// would be header injection) of capped length.
func subjectLine(s string) string {
	s = oneLine(s)
	if utf8.RuneCountInString(s) > maxSubjectRunes {
		s = string([]rune(s)[:maxSubjectRunes-1]) + "…"
	}
	return s
}

// validAddress returns the bare address in s when s is exactly one valid
// address without line breaks.
func validAddress(s string) (string, bool) {
	s = strings.TrimSpace(s)
	if s == "" || hasLineBreak(s) {
		return "", false
	}
	a, err := parseAddress(s)
	if err != nil {
		return "", false
	}
	return a, true
}

func formatTime(t time.Time) string { return t.UTC().Format(timeLayout) }

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}
