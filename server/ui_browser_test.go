package server

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/png"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/emersion/go-smtp"
	"github.com/photovault/photovault/store"
)

// Real-browser tests of the embedded UI: headless Chromium (the system
// package) drives the client gallery and the owner app against a real server
// on 127.0.0.1. They skip when Chromium is not installed; CI installs it.
//
// Set PHOTOVAULT_SCREENSHOT_DIR to keep the screenshots for a look.

const (
	uiChromium = "/usr/bin/chromium"
	// uiStepTimeout bounds every browser step, so nothing hangs.
	uiStepTimeout = 15 * time.Second
	uiStudio      = "Lumière Studio"
	uiAlbumTitle  = "Smith Wedding"
	uiXSSTitle    = `<img src=x onerror="window.__xss=1">`
	uiXSSFilename = `<script>window.__xss=2</script>.jpg`
)

// uiOwnerExpected are the failed requests of a signed-out start and a wrong
// password: /api/auth/me answers 401, the one refresh attempt without a
// cookie fails, then the login form shows; the wrong password gets 401.
var uiOwnerExpected = []string{"/api/auth/me", "/api/auth/refresh", "/api/auth/login"}

// uiLogEntry is one console message, uncaught exception or browser log
// entry seen in a tab.
type uiLogEntry struct {
	tab, kind, level, text, url string
	allowed                     bool
}

func (l uiLogEntry) String() string {
	return fmt.Sprintf("[%s] %s/%s %q url=%s", l.tab, l.kind, l.level, l.text, l.url)
}

// uiBrowser is one server and one Chromium shared by the Browser subtests;
// every tab gets its own browser context (cookies, storage).
type uiBrowser struct {
	e       *testEnv
	mail    *inbox // the server's SMTP server
	base    string
	browser context.Context
	shots   string

	mu      sync.Mutex
	entries []uiLogEntry
}

// uiFixture is the content the scenarios work on.
type uiFixture struct {
	owner    owner
	album    string
	photos   []string
	share    shareView // download=original, no password
	limited  shareView // selection_limit 2
	locked   shareView // password protected
	password string
	revoked  shareView
	xss      shareView
}

func TestBrowserUI(t *testing.T) {
	if _, err := os.Stat(uiChromium); err != nil {
		t.Skip("chromium not installed at " + uiChromium)
	}
	// A local SMTP server, so the owner app can email links.
	box, port := uiStartMail(t)
	e := newTestEnv(t, map[string]string{"PHOTOVAULT_SMTP_HOST": "127.0.0.1", "PHOTOVAULT_SMTP_PORT": strconv.Itoa(port),
		"PHOTOVAULT_SMTP_TLS": "none", "PHOTOVAULT_SMTP_FROM": "studio@example.com"})
	// Share links are built on the public URL, as behind a proxy: here it is
	// the test listener (set before the first request).
	e.cfg.PublicURL = e.http.URL
	flushCtx, stopFlush := context.WithCancel(context.Background())
	t.Cleanup(stopFlush)
	go e.srv.runAccessFlusher(flushCtx) // as serve runs it: the access-log buffer must drain

	f := uiSetup(t, e)
	b := uiStartBrowser(t, e)
	b.mail = box

	t.Run("Gallery", func(t *testing.T) { b.testGallery(t, f) })
	t.Run("SelectionLimit", func(t *testing.T) { b.testSelectionLimit(t, f) })
	t.Run("PasswordShare", func(t *testing.T) { b.testPasswordShare(t, f) })
	t.Run("DeadLinks", func(t *testing.T) { b.testDeadLinks(t, f) })
	t.Run("XSS", func(t *testing.T) { b.testXSS(t, f) })
	t.Run("OwnerApp", func(t *testing.T) { b.testOwnerApp(t, f) })
	t.Run("OwnerAppWithoutMail", b.testOwnerNoMail)
	t.Run("Screenshots", func(t *testing.T) { b.testScreenshots(t, f) })
	// Last: it judges the console of every page above.
	t.Run("CSP", func(t *testing.T) { b.testConsoleClean(t, f) })
}

// uiSetup creates an owner with a studio name, an album of three real photos
// (landscape and portrait) and the shares the scenarios open.
func uiSetup(t *testing.T, e *testEnv) uiFixture {
	t.Helper()
	o := e.createOwner("lumiere")
	if resp, b := e.do("PATCH", "/api/auth/me", map[string]any{"studio": uiStudio}, o.bearer()); resp.StatusCode != 200 {
		t.Fatalf("set studio: %d %s", resp.StatusCode, b)
	}
	f := uiFixture{owner: o, password: "blue-harbour-1987"}
	a := e.newAlbum(o, uiAlbumTitle)
	f.album = a.ID
	sizes := [][2]int{{960, 640}, {640, 960}, {960, 640}}
	for i, s := range sizes {
		m := e.addPhoto(o, a.ID, fmt.Sprintf("IMG_%04d.jpg", i+1), makeJPEG(t, s[0], s[1], uint8(40*i)))
		uiReady(t, e, m.ID)
		f.photos = append(f.photos, m.ID)
	}
	f.share = e.share(o, map[string]any{"album_id": a.ID, "download": "original", "label": "proofs"})
	f.locked = e.share(o, map[string]any{"album_id": a.ID, "password": f.password, "label": "locked"})
	f.limited = e.share(o, map[string]any{"album_id": a.ID, "selection_limit": 2, "label": "limited"})
	f.revoked = e.share(o, map[string]any{"album_id": a.ID, "label": "revoked"})
	if resp, b := e.do("DELETE", "/api/shares/"+f.revoked.ID, nil, o.bearer()); resp.StatusCode != 204 {
		t.Fatalf("revoke: %d %s", resp.StatusCode, b)
	}
	xa := e.newAlbum(o, uiXSSTitle)
	uiReady(t, e, e.addPhoto(o, xa.ID, uiXSSFilename, makeJPEG(t, 480, 320, 7)).ID)
	f.xss = e.share(o, map[string]any{"album_id": xa.ID, "download": "preview"})
	return f
}

// uiStartMail starts the test inbox (notify_test.go) as an SMTP server on
// 127.0.0.1 that refuses every recipient at bounce.example, as a mail server
// refuses an unknown address.
func uiStartMail(t *testing.T) (*inbox, int) {
	t.Helper()
	box := &inbox{}
	return box, startSMTP(t, uiBouncer{box})
}

type uiBouncer struct{ *inbox }

func (b uiBouncer) NewSession(c *smtp.Conn) (smtp.Session, error) {
	s, err := b.inbox.NewSession(c)
	return uiBounceSession{s}, err
}

type uiBounceSession struct{ smtp.Session }

func (s uiBounceSession) Rcpt(to string, o *smtp.RcptOptions) error {
	if strings.HasSuffix(to, "@bounce.example") {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such mailbox"}
	}
	return s.Session.Rcpt(to, o)
}

// waitMail waits for an email whose raw text contains every one of want, and
// returns it.
func (b *uiBrowser) waitMail(t *testing.T, what string, want ...string) string {
	t.Helper()
	deadline := time.Now().Add(uiStepTimeout)
	for {
		b.mail.mu.Lock()
		msgs := append([]string(nil), b.mail.msgs...)
		b.mail.mu.Unlock()
		for _, m := range msgs {
			ok := true
			for _, w := range want {
				ok = ok && strings.Contains(m, w)
			}
			if ok {
				return m
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no email %s (containing %q) among %d", what, want, len(msgs))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// uiReady marks a photo ready, as the derivative worker (not running in
// tests) does once addPhoto's derivatives exist; the owner app shows
// "Processing…" placeholders until then.
func uiReady(t *testing.T, e *testEnv, mediaID string) {
	t.Helper()
	if err := e.store.SetMediaStatus(context.Background(), mediaID, store.MediaStatusReady); err != nil {
		t.Fatal(err)
	}
}

// uiStartBrowser starts one headless Chromium for the whole test. Host names
// resolve to nothing, so the browser cannot reach beyond 127.0.0.1.
func uiStartBrowser(t *testing.T, e *testEnv) *uiBrowser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(uiChromium),
		chromedp.NoSandbox,
		chromedp.Headless,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 800),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	bctx, cancelBrowser := chromedp.NewContext(allocCtx)
	t.Cleanup(func() { _ = chromedp.Cancel(bctx); cancelBrowser() })
	startCtx, cancelStart := context.WithTimeout(bctx, 30*time.Second)
	defer cancelStart()
	// The first Do binds the browser's life to its context: start it with
	// the long-lived one, then check the start with a deadline.
	started := make(chan error, 1)
	go func() { started <- chromedp.Do(bctx) }()
	select {
	case err := <-started:
		if err != nil {
			t.Fatalf("start chromium: %v", err)
		}
	case <-startCtx.Done():
		t.Fatal("chromium did not start within 30 s")
	}
	b := &uiBrowser{e: e, base: e.http.URL, browser: bctx, shots: t.TempDir()}
	return b
}

// tab opens a fresh tab in its own browser context (no shared cookies or
// storage). Network-error log entries whose URL contains one of allow are
// expected (a 401 on a locked share, a 404 on an unknown link).
func (b *uiBrowser) tab(t *testing.T, allow ...string) context.Context {
	t.Helper()
	name := t.Name()
	listen := func(ev any) {
		var l uiLogEntry
		switch ev := ev.(type) {
		case *runtime.EventExceptionThrown:
			d := ev.ExceptionDetails
			text := d.Text
			if d.Exception != nil && d.Exception.Description != "" {
				text += " " + d.Exception.Description
			}
			l = uiLogEntry{kind: "exception", level: "error", text: text, url: d.URL}
		case *runtime.EventConsoleAPICalled:
			var parts []string
			for _, a := range ev.Args {
				if a.Description != "" {
					parts = append(parts, a.Description)
				} else {
					parts = append(parts, string(a.Value))
				}
			}
			l = uiLogEntry{kind: "console", level: string(ev.Type), text: strings.Join(parts, " ")}
		case *log.EventEntryAdded:
			en := ev.Entry
			l = uiLogEntry{kind: "log:" + string(en.Source), level: string(en.Level), text: en.Text, url: en.URL}
			if en.Source == log.EntrySourceNetwork {
				for _, a := range allow {
					if strings.Contains(en.URL, a) {
						l.allowed = true
					}
				}
			}
		default:
			return
		}
		l.tab = name
		b.mu.Lock()
		b.entries = append(b.entries, l)
		b.mu.Unlock()
	}
	ctx, cancel := chromedp.NewContext(b.browser, chromedp.WithNewBrowserContext(), chromedp.WithListener(listen))
	t.Cleanup(cancel)
	if err := b.within(ctx, chromedp.Do); err != nil {
		t.Fatalf("open tab: %v", err)
	}
	return ctx
}

// within runs f with the tab's first Do outside any deadline (the first Do
// binds the tab's life to its context) but gives up after uiStepTimeout.
func (b *uiBrowser) within(ctx context.Context, f func(context.Context, ...chromedp.Action[chromedp.Void]) error) error {
	done := make(chan error, 1)
	go func() { done <- f(ctx) }()
	select {
	case err := <-done:
		return err
	case <-time.After(uiStepTimeout):
		return fmt.Errorf("no tab after %v", uiStepTimeout)
	}
}

// uiDo runs steps with a deadline; on failure it reports what the page shows.
func uiDo(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	tctx, cancel := context.WithTimeout(ctx, uiStepTimeout)
	defer cancel()
	if err := chromedp.Do(tctx, steps...); err != nil {
		t.Fatalf("%s: %v\npage shows: %q", what, err, uiPageText(ctx))
	}
}

// uiEval evaluates a JavaScript expression in the page.
func uiEval[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	tctx, cancel := context.WithTimeout(ctx, uiStepTimeout)
	defer cancel()
	v, err := chromedp.Run(tctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("eval %s: %v", expr, err)
	}
	return v
}

// uiWait polls until the expression is true.
func uiWait(t *testing.T, ctx context.Context, what, expr string) {
	t.Helper()
	tctx, cancel := context.WithTimeout(ctx, uiStepTimeout+time.Second)
	defer cancel()
	if _, err := chromedp.Run(tctx, chromedp.Poll[bool](expr,
		chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(uiStepTimeout))); err != nil {
		t.Fatalf("waiting for %s: %v\npage shows: %q", what, err, uiPageText(ctx))
	}
}

// uiPageText is the visible text of the page, for failure messages.
func uiPageText(ctx context.Context) string {
	tctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	s, err := chromedp.Run(tctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ''`))
	if err != nil {
		return "(unreadable: " + err.Error() + ")"
	}
	if len(s) > 600 {
		s = s[:600] + "…"
	}
	return s
}

// uiJS quotes s as a JavaScript string literal.
func uiJS(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == '<' || r == '>' || r == 0x2028 || r == 0x2029:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// uiThumbsLoaded is true when the gallery grid shows n thumbnails that loaded.
func uiThumbsLoaded(n int) string {
	return fmt.Sprintf(`(() => { const im = [...document.querySelectorAll('.g-grid figure.g-item img')];
		return im.length === %d && im.every((i) => i.complete && i.naturalWidth > 0); })()`, n)
}

// uiText is the trimmed textContent of the first element matching sel ("" if none).
func uiText(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	return uiEval[string](t, ctx, fmt.Sprintf(`(() => { const el = document.querySelector(%s); return el ? el.textContent.trim() : ''; })()`, uiJS(sel)))
}

func (b *uiBrowser) testGallery(t *testing.T, f uiFixture) {
	ctx := b.tab(t)
	uiDo(t, ctx, "open gallery", chromedp.Navigate(b.base+"/s/"+f.share.Token))
	uiWait(t, ctx, "3 loaded thumbnails", uiThumbsLoaded(3))
	if got := uiText(t, ctx, ".g-head h1"); got != uiAlbumTitle {
		t.Errorf("title %q, want %q", got, uiAlbumTitle)
	}
	// The toasts' live region is there from the start, before any message.
	if !uiEval[bool](t, ctx, `(() => { const r = document.getElementById('toasts');
		return !!r && r.parentElement === document.body && r.getAttribute('aria-live') === 'polite' && !r.children.length; })()`) {
		t.Error("no empty toast live region in the gallery before the first message")
	}
	if got := uiText(t, ctx, ".g-head .studio"); got != uiStudio {
		t.Errorf("studio %q, want %q", got, uiStudio)
	}
	if got := uiEval[string](t, ctx, `document.title`); !strings.Contains(got, uiAlbumTitle) || !strings.Contains(got, uiStudio) {
		t.Errorf("document.title %q", got)
	}
	// Thumbnails, not originals: smaller than the 960 px photos.
	if w := uiEval[int](t, ctx, `Math.max(...[...document.querySelectorAll('.g-grid img')].map((i) => i.naturalWidth))`); w >= 960 {
		t.Errorf("grid loaded %d px images, want thumbnails", w)
	}
	// The original may be downloaded (download=original): every tile has a link.
	if n := uiEval[int](t, ctx, `document.querySelectorAll('.g-grid a.g-dl[href]').length`); n != 3 {
		t.Errorf("%d download links, want 3", n)
	}

	// The lightbox opens on the preview of the clicked photo.
	uiDo(t, ctx, "click first thumbnail", chromedp.Click(chromedp.CSS(".g-grid figure.g-item .g-link")))
	uiWait(t, ctx, "lightbox with the preview", `(() => {
		const href = document.querySelector('.g-grid .g-link').href;
		const im = [...document.querySelectorAll('.pswp .pswp__img')].find((i) => i.src === href && !i.classList.contains('pswp__img--placeholder'));
		return !!document.querySelector('.pswp.pswp--open') && !!im && im.complete && im.naturalWidth > 0; })()`)
	if w := uiEval[int](t, ctx, `[...document.querySelectorAll('.pswp__img')].find((i) => i.src === document.querySelector('.g-grid .g-link').href).naturalWidth`); w != 960 {
		t.Errorf("preview is %d px wide, want 960 (the photo's own size, under the preview bound)", w)
	}
	if got := uiText(t, ctx, ".pswp__caption"); got != "IMG_0001.jpg" {
		t.Errorf("lightbox caption %q", got)
	}
	uiDo(t, ctx, "close lightbox", chromedp.KeyEvent(kb.Escape))
	uiWait(t, ctx, "lightbox closed", `!document.querySelector('.pswp')`)

	// Favourite the second photo and send the selection.
	id := uiEval[string](t, ctx, `document.querySelectorAll('.g-grid figure.g-item')[1].dataset.id`)
	if id != f.photos[1] {
		t.Fatalf("second tile is %q, want %q", id, f.photos[1])
	}
	uiDo(t, ctx, "heart the second photo", chromedp.Click(chromedp.CSS(".g-grid figure.g-item:nth-child(2) .g-heart")))
	uiWait(t, ctx, "heart pressed", `document.querySelector('.g-grid figure.g-item:nth-child(2) .g-heart').getAttribute('aria-pressed') === 'true'`)
	if got := uiText(t, ctx, ".g-bar .g-btn.primary"); got != "Send my selection (1)" {
		t.Errorf("send button %q", got)
	}
	uiDo(t, ctx, "open the selection form", chromedp.Click(chromedp.CSS(".g-bar .g-btn.primary")))
	uiDo(t, ctx, "fill the selection form",
		chromedp.WaitVisible(chromedp.CSS("dialog .g-form input[name=name]")),
		chromedp.SendKeys(chromedp.CSS("dialog .g-form input[name=name]"), "Ada Smith"),
		chromedp.SendKeys(chromedp.CSS("dialog .g-form input[name=email]"), "ada@example.com"),
		chromedp.SendKeys(chromedp.CSS("dialog .g-form textarea[name=note]"), "Please retouch this one."),
		chromedp.Click(chromedp.CSS("dialog .g-form button[type=submit]")))
	uiWait(t, ctx, "thank-you state", `!!document.querySelector('dialog .g-thanks')`)
	if got := uiText(t, ctx, "dialog .g-thanks h2"); got != "Thank you, Ada Smith!" {
		t.Errorf("thanks %q", got)
	}
	if got := uiText(t, ctx, "dialog .g-thanks p"); !strings.Contains(got, "1 photo") || !strings.Contains(got, uiStudio) {
		t.Errorf("thanks text %q", got)
	}

	// The studio sees it through the owner API.
	resp, body := b.e.do("GET", "/api/shares/"+f.share.ID+"/selections", nil, f.owner.bearer())
	if resp.StatusCode != 200 {
		t.Fatalf("selections: %d %s", resp.StatusCode, body)
	}
	sels := decode[struct {
		Items []selectionView `json:"items"`
	}](t, body).Items
	if len(sels) != 1 {
		t.Fatalf("%d selections, want 1: %s", len(sels), body)
	}
	s := sels[0]
	if s.Name != "Ada Smith" || s.Email != "ada@example.com" || s.Note != "Please retouch this one." ||
		len(s.MediaIDs) != 1 || s.MediaIDs[0] != f.photos[1] {
		t.Errorf("selection %+v, want photo %s", s, f.photos[1])
	}
	// Favourites persist in localStorage, keyed by a hash and never by the token.
	if st := uiEval[string](t, ctx, `JSON.stringify(localStorage)`); strings.Contains(st, f.share.Token) || !strings.Contains(st, f.photos[1]) {
		t.Errorf("localStorage %s: token leaked or favourite missing", st)
	}
}

// testSelectionLimit: on a share that allows 2 favourites the gallery says
// so, refuses a third from the grid and from the lightbox, shows favourites
// kept from before over the limit honestly and will not send them, and sends
// exactly the 2.
func (b *uiBrowser) testSelectionLimit(t *testing.T, f uiFixture) {
	const (
		refused = "You can pick up to 2 photos — remove one to add another."
		over    = "You can pick up to 2 photos — remove one to send your selection."
		heart   = ".g-grid figure.g-item:nth-child(%d) .g-heart"
		notice  = ".g-notices .g-notice"
	)
	pressed := func(n int) string {
		return fmt.Sprintf(`(document.querySelector(%s).getAttribute('aria-pressed') === 'true')`, uiJS(fmt.Sprintf(heart, n)))
	}
	count := func(ctx context.Context, want, label string) {
		t.Helper()
		if got := uiText(t, ctx, ".g-bar .g-btn:first-child"); got != want {
			t.Errorf("favourites count %q, want %q", got, want)
		}
		if got := uiEval[string](t, ctx, `document.querySelector('.g-bar .g-btn:first-child').getAttribute('aria-label')`); got != label {
			t.Errorf("favourites button label %q, want %q", got, label)
		}
	}
	// A notice must be on screen with the text, not just in the DOM.
	shown := func(text string) string {
		return fmt.Sprintf(`(() => { const n = document.querySelector(%s); if (!n || n.textContent !== %s) return false;
			const r = n.getBoundingClientRect(); return r.width > 0 && r.height > 0 && r.top >= 0 && r.bottom <= innerHeight
				&& getComputedStyle(n).visibility === 'visible' && getComputedStyle(n).opacity === '1'; })()`, uiJS(notice), uiJS(text))
	}

	ctx := b.tab(t)
	uiDo(t, ctx, "open gallery", chromedp.Navigate(b.base+"/s/"+f.limited.Token))
	uiWait(t, ctx, "3 loaded thumbnails", uiThumbsLoaded(3))
	if got := uiText(t, ctx, ".g-head p.muted"); !strings.Contains(got, "choose up to 2 favourites") {
		t.Errorf("header %q does not say the limit", got)
	}
	count(ctx, "0 of 2", "0 of 2 favourites; show favourites only")
	uiDo(t, ctx, "heart photos 1 and 2",
		chromedp.Click(chromedp.CSS(fmt.Sprintf(heart, 1))), chromedp.Click(chromedp.CSS(fmt.Sprintf(heart, 2))))
	uiWait(t, ctx, "two hearts pressed", pressed(1)+" && "+pressed(2))
	count(ctx, "2 of 2", "2 of 2 favourites; show favourites only")

	// A third from the grid is refused, politely and visibly.
	uiDo(t, ctx, "heart photo 3", chromedp.Click(chromedp.CSS(fmt.Sprintf(heart, 3))))
	uiWait(t, ctx, "the refusal", shown(refused))
	if uiEval[bool](t, ctx, pressed(3)) {
		t.Error("a third favourite was added past the limit")
	}
	if got := uiEval[string](t, ctx, `document.querySelector('.g-notices').getAttribute('role')`); got != "alert" {
		t.Errorf("notices region role %q, want alert (announced)", got)
	}
	count(ctx, "2 of 2", "2 of 2 favourites; show favourites only")

	// And from the lightbox, where the notice shows above the photo.
	uiDo(t, ctx, "clear the notice and open photo 3",
		chromedp.Evaluate[chromedp.Void](`document.querySelector('.g-notices').replaceChildren()`),
		chromedp.Click(chromedp.CSS(".g-grid figure.g-item:nth-child(3) .g-link")))
	uiWait(t, ctx, "lightbox on photo 3", `!!document.querySelector('.pswp.pswp--open .pswp__button--favourite')
		&& (document.querySelector('.pswp__caption') || {}).textContent === 'IMG_0003.jpg'`)
	uiDo(t, ctx, "favourite in the lightbox", chromedp.Click(chromedp.CSS(".pswp__button--favourite")))
	uiWait(t, ctx, "the refusal over the lightbox", shown(refused))
	if got := uiEval[string](t, ctx, `document.querySelector('.pswp__button--favourite').getAttribute('aria-pressed')`); got != "false" {
		t.Errorf("lightbox favourite button aria-pressed %q after a refusal", got)
	}
	if z := uiEval[string](t, ctx, `getComputedStyle(document.querySelector('.g-notices')).zIndex + '>' + getComputedStyle(document.querySelector('.pswp')).zIndex`); z != "100001>100000" {
		t.Errorf("notice / lightbox z-index %s: the notice would hide behind the photo", z)
	}
	// A toast shows above the lightbox too: a probe in the live region is
	// what the browser finds at its own centre.
	if got := uiEval[string](t, ctx, `(() => { const r = document.getElementById('toasts'); if (!r) return 'no live region';
		const p = document.createElement('div'); p.className = 'toast'; p.textContent = 'probe'; r.appendChild(p);
		const b = p.getBoundingClientRect(); const hit = document.elementFromPoint(b.left + b.width / 2, b.top + b.height / 2);
		p.remove(); return hit === p ? 'on top' : 'under ' + (hit ? hit.className : 'nothing'); })()`); got != "on top" {
		t.Errorf("a toast over the open lightbox is %s", got)
	}
	// PhotoSwipe ignores Escape until its opening animation ends: press it
	// until the lightbox closes.
	uiWait(t, ctx, "lightbox closed", `!document.querySelector('.pswp')
		|| (document.dispatchEvent(new KeyboardEvent('keydown', { key: 'Escape', bubbles: true })), false)`)

	// Favourites kept from before the photographer lowered the limit: shown
	// as they are, and not sent until the client removes one.
	uiDo(t, ctx, "a third stored favourite, reload",
		chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => { const k = Object.keys(localStorage).find((k) => k.startsWith('pv_fav_'));
			localStorage.setItem(k, JSON.stringify([...JSON.parse(localStorage.getItem(k)), %s])); })()`, uiJS(f.photos[2]))),
		chromedp.Reload())
	uiWait(t, ctx, "3 loaded thumbnails after reload", uiThumbsLoaded(3))
	uiWait(t, ctx, "three hearts pressed", pressed(1)+" && "+pressed(2)+" && "+pressed(3))
	count(ctx, "3 of 2", "3 of 2 favourites; show favourites only")
	if got := uiText(t, ctx, ".g-bar .g-limit-note"); got != over {
		t.Errorf("over-limit note %q, want %q", got, over)
	}
	uiDo(t, ctx, "try to send", chromedp.Click(chromedp.CSS(".g-bar .g-btn.primary")))
	uiWait(t, ctx, "the refusal to send", shown(over))
	if n := uiEval[int](t, ctx, `document.querySelectorAll('dialog').length`); n != 0 {
		t.Fatal("the selection form opened with more favourites than the limit")
	}
	uiDo(t, ctx, "remove photo 3", chromedp.Click(chromedp.CSS(fmt.Sprintf(heart, 3))))
	uiWait(t, ctx, "photo 3 removed", "!"+pressed(3)+` && document.querySelector('.g-limit-note').hidden`)
	count(ctx, "2 of 2", "2 of 2 favourites; show favourites only")

	uiDo(t, ctx, "send the selection",
		chromedp.Click(chromedp.CSS(".g-bar .g-btn.primary")),
		chromedp.WaitVisible(chromedp.CSS("dialog .g-form input[name=name]")),
		chromedp.SendKeys(chromedp.CSS("dialog .g-form input[name=name]"), "Grace Hopper"),
		chromedp.SendKeys(chromedp.CSS("dialog .g-form input[name=email]"), "grace@example.com"),
		chromedp.Click(chromedp.CSS("dialog .g-form button[type=submit]")))
	uiWait(t, ctx, "thank-you state", `!!document.querySelector('dialog .g-thanks')`)
	resp, body := b.e.do("GET", "/api/shares/"+f.limited.ID+"/selections", nil, f.owner.bearer())
	if resp.StatusCode != 200 {
		t.Fatalf("selections: %d %s", resp.StatusCode, body)
	}
	sels := decode[struct {
		Items []selectionView `json:"items"`
	}](t, body).Items
	if len(sels) != 1 || strings.Join(sels[0].MediaIDs, ",") != f.photos[0]+","+f.photos[1] {
		t.Fatalf("selections %s, want one of exactly %s and %s", body, f.photos[0], f.photos[1])
	}
}

func (b *uiBrowser) testPasswordShare(t *testing.T, f uiFixture) {
	// The first content request answers 401 (that shows the lock screen),
	// and so does the wrong password.
	// On a phone, where clients open links.
	ctx := b.tab(t, "/content", "/unlock")
	uiDo(t, ctx, "phone viewport", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
	uiDo(t, ctx, "open locked gallery", chromedp.Navigate(b.base+"/s/"+f.locked.Token))
	uiDo(t, ctx, "lock screen", chromedp.WaitVisible(chromedp.CSS(".g-lock-form input[name=password]")))
	// The password row fits the screen (it once overflowed: the centring
	// grid's track grew to the input's intrinsic width).
	if r := uiEval[float64](t, ctx, `document.querySelector('.g-lock-form button').getBoundingClientRect().right`); r > 390 {
		t.Errorf("lock screen button ends at x=%.0f, past the 390 px screen", r)
	}
	if n := uiEval[int](t, ctx, `document.querySelectorAll('.g-grid img').length`); n != 0 {
		t.Fatalf("%d photos shown before unlock", n)
	}
	// The title stays hidden until the password is given (meta hides it).
	if got := uiText(t, ctx, ".g-lock h1"); got == uiAlbumTitle {
		t.Errorf("lock screen shows the album title")
	}
	uiDo(t, ctx, "wrong password",
		chromedp.SendKeys(chromedp.CSS(".g-lock-form input[name=password]"), "not-the-password"),
		chromedp.Click(chromedp.CSS(".g-lock-form button[type=submit]")))
	uiWait(t, ctx, "wrong-password error", `(document.querySelector('.g-lock .g-error') || {}).textContent === 'Wrong password. Please try again.'`)
	if n := uiEval[int](t, ctx, `document.querySelectorAll('.g-grid img').length`); n != 0 {
		t.Fatalf("wrong password showed %d photos", n)
	}
	uiDo(t, ctx, "right password",
		chromedp.Clear(chromedp.CSS(".g-lock-form input[name=password]")),
		chromedp.SendKeys(chromedp.CSS(".g-lock-form input[name=password]"), f.password),
		chromedp.Click(chromedp.CSS(".g-lock-form button[type=submit]")))
	uiWait(t, ctx, "3 loaded thumbnails after unlock", uiThumbsLoaded(3))
	if got := uiText(t, ctx, ".g-head h1"); got != uiAlbumTitle {
		t.Errorf("unlocked gallery title %q, want %q", got, uiAlbumTitle)
	}
	// The thumbnails came with the HttpOnly unlock cookie: without it the
	// same signed URL is refused.
	src := uiEval[string](t, ctx, `document.querySelector('.g-grid img').src`)
	u, err := url.Parse(src)
	if err != nil || u.Host != strings.TrimPrefix(b.base, "http://") {
		t.Fatalf("thumb url %q: %v", src, err)
	}
	if resp, _ := b.e.do("GET", u.RequestURI(), nil, nil); resp.StatusCode < 400 {
		t.Errorf("thumbnail of a locked share served without the unlock cookie: %d", resp.StatusCode)
	}
	if c := uiEval[string](t, ctx, `document.cookie`); strings.Contains(c, "pv_share") {
		t.Errorf("unlock cookie readable from JS: %q", c)
	}
	// A reload uses the cookie: no second password prompt.
	uiDo(t, ctx, "reload", chromedp.Reload())
	uiWait(t, ctx, "3 loaded thumbnails after reload", uiThumbsLoaded(3))
}

func (b *uiBrowser) testDeadLinks(t *testing.T, f uiFixture) {
	unknown := strings.Repeat("A", 43)
	// The page and meta of a dead link answer 410 or 404, as they should.
	ctx := b.tab(t, f.revoked.Token, unknown, "/s/short")
	cases := []struct{ path, title, text string }{
		{"/s/" + f.revoked.Token, "This link has expired or was revoked", "Please ask your photographer for a new link."},
		{"/s/" + unknown, "Link not found", "Please check the link you were sent"},
		{"/s/short", "Link not found", "Please check the link you were sent"},
	}
	for _, c := range cases {
		uiDo(t, ctx, "open "+c.path, chromedp.Navigate(b.base+c.path))
		uiWait(t, ctx, c.title, fmt.Sprintf(`(document.querySelector('.g-message h1') || {}).textContent === %s`, uiJS(c.title)))
		if got := uiText(t, ctx, ".g-message p.muted"); !strings.Contains(got, c.text) {
			t.Errorf("%s: message %q", c.path, got)
		}
		// No retry button for a dead link: retrying cannot help.
		if n := uiEval[int](t, ctx, `document.querySelectorAll('.g-message button').length`); n != 0 {
			t.Errorf("%s: %d buttons on a dead link", c.path, n)
		}
	}
}

func (b *uiBrowser) testXSS(t *testing.T, f uiFixture) {
	ctx := b.tab(t)
	uiDo(t, ctx, "open gallery", chromedp.Navigate(b.base+"/s/"+f.xss.Token))
	uiWait(t, ctx, "1 loaded thumbnail", uiThumbsLoaded(1))
	if got := uiText(t, ctx, ".g-head h1"); got != uiXSSTitle {
		t.Errorf("title shown as %q, want the literal text %q", got, uiXSSTitle)
	}
	if got := uiEval[string](t, ctx, `document.querySelector('.g-grid img').alt`); got != uiXSSFilename {
		t.Errorf("alt %q, want %q", got, uiXSSFilename)
	}
	uiDo(t, ctx, "open lightbox", chromedp.Click(chromedp.CSS(".g-grid .g-link")))
	uiWait(t, ctx, "caption", fmt.Sprintf(`(document.querySelector('.pswp__caption') || {}).textContent === %s`, uiJS(uiXSSFilename)))
	// Give an injected onerror handler the time to fire.
	uiDo(t, ctx, "settle", chromedp.Sleep(300*time.Millisecond))
	if got := uiEval[string](t, ctx, `typeof window.__xss`); got != "undefined" {
		t.Fatalf("injected code ran: window.__xss is %s", got)
	}
	if n := uiEval[int](t, ctx, `document.querySelectorAll('img:not([src^="/"]):not([src^="http"]):not([src^="blob:"]):not([src^="data:"]), main script, .g-head img, .pswp__caption *').length`); n != 0 {
		t.Errorf("%d elements built from user text", n)
	}
}

func (b *uiBrowser) testOwnerApp(t *testing.T, f uiFixture) {
	ctx := b.tab(t, uiOwnerExpected...)
	b.ownerLogin(t, ctx, f)
	// Cookie mode: the session tokens are HttpOnly, only the CSRF token is readable.
	c := uiEval[string](t, ctx, `document.cookie`)
	if !strings.Contains(c, "pv_csrf=") || strings.Contains(c, "pv_at") || strings.Contains(c, "pv_rt") {
		t.Errorf("readable cookies %q: want only pv_csrf", c)
	}
	if n := uiEval[int](t, ctx, `localStorage.length + sessionStorage.length`); n != 0 {
		t.Errorf("owner app stored %d items in web storage", n)
	}
	// The other album's hostile title is listed as text.
	uiWait(t, ctx, "both albums listed", fmt.Sprintf(`[...document.querySelectorAll('.album-card h3')].map((h) => h.textContent).includes(%s)`, uiJS(uiXSSTitle)))
	if got := uiEval[string](t, ctx, `typeof window.__xss`); got != "undefined" {
		t.Fatalf("album title ran as code in the owner app: %s", got)
	}

	uiDo(t, ctx, "open the album", chromedp.Click(chromedp.Search(fmt.Sprintf(`//a[contains(@class,"album-card")][.//h3[text()=%q]]`, uiAlbumTitle))))
	uiWait(t, ctx, "album page", fmt.Sprintf(`(document.querySelector('.page-head h1') || {}).textContent === %s`, uiJS(uiAlbumTitle)))
	uiWait(t, ctx, "3 loaded photos", `(() => { const im = [...document.querySelectorAll('.media-grid figure.tile img')];
		return im.length === 3 && im.every((i) => i.complete && i.naturalWidth > 0); })()`)
	if got := uiText(t, ctx, "nav.tabs .count"); got != "3" {
		t.Errorf("photo count %q", got)
	}

	// The toasts' live region is there from the start, before any message.
	if !uiEval[bool](t, ctx, `(() => { const r = document.getElementById('toasts');
		return !!r && r.parentElement === document.body && r.getAttribute('aria-live') === 'polite'; })()`) {
		t.Error("no toast live region in the owner app before the first message")
	}

	uiDo(t, ctx, "open the client links tab", chromedp.Click(chromedp.CSS(`nav.tabs a[href$="/shares"]`)))
	const form = ".shares-layout form "
	// This server sends email (GET /api/instance: mail true): the email
	// fields are on, with no hint.
	uiWait(t, ctx, "the share form knowing the server sends email", `(document.querySelector('.shares-layout form') || { dataset: {} }).dataset.mail === 'on'`)
	if !uiEval[bool](t, ctx, `(() => { const f = document.querySelector('.shares-layout form');
		return !f.elements.send_to.disabled && !f.elements.notify_first_view.disabled && !f.elements.message.disabled
			&& [...f.querySelectorAll('.mail-hint')].every((h) => h.hidden); })()`) {
		t.Error("email fields off or hinted on a server that sends email")
	}
	const messageHidden = `document.querySelector('.shares-layout form textarea[name=message]').closest('label').hidden`
	uiDo(t, ctx, "fill the share form",
		chromedp.WaitVisible(chromedp.CSS(form+"input[name=label]")),
		chromedp.SendKeys(chromedp.CSS(form+"input[name=label]"), "From the browser"),
		chromedp.SetValue(chromedp.CSS(form+"select[name=download]"), "original"),
		chromedp.SendKeys(chromedp.CSS(form+"input[name=selection_limit]"), "3"),
		chromedp.Click(chromedp.CSS(form+"input[name=notify_first_view]")))
	// The message to the client shows once there is an address to send to.
	if !uiEval[bool](t, ctx, messageHidden) {
		t.Error("message field shown without an email address")
	}
	uiDo(t, ctx, "enter the client's email", chromedp.SendKeys(chromedp.CSS(form+"input[name=send_to]"), "ada@example.com"))
	uiWait(t, ctx, "message field", "!"+messageHidden)
	uiDo(t, ctx, "write a message and create",
		chromedp.SendKeys(chromedp.CSS(form+"textarea[name=message]"), "See you at the studio on Friday."),
		chromedp.Click(chromedp.CSS(form+"button[type=submit]")))
	uiWait(t, ctx, "created link", `!!(document.querySelector('.created input.mono') || {}).value`)
	link := uiEval[string](t, ctx, `document.querySelector('.created input.mono').value`)
	if !strings.HasPrefix(link, b.base+"/s/") || len(strings.TrimPrefix(link, b.base+"/s/")) != 43 {
		t.Fatalf("created link %q, want %s/s/<43-char token>", link, b.base)
	}
	token := strings.TrimPrefix(link, b.base+"/s/")
	if got := uiText(t, ctx, ".created .invite-sent"); got != "Emailed to ada@example.com." {
		t.Errorf("invite note %q, want %q", got, "Emailed to ada@example.com.")
	}
	if !strings.Contains(uiText(t, ctx, ".created .warn"), "Copy this link now") {
		t.Error("the created card no longer says to copy the link now")
	}
	// The client got the link and the message.
	b.waitMail(t, "with the link to ada@example.com", "ada@example.com", token, "See you at the studio on Friday.")
	// The form is reset, the message field hidden again.
	if !uiEval[bool](t, ctx, messageHidden+` && document.querySelector('.shares-layout form input[name=selection_limit]').value === ''
		&& !document.querySelector('.shares-layout form input[name=notify_first_view]').checked`) {
		t.Error("share form not reset after creating a link")
	}
	uiWait(t, ctx, "the new link in the list", `[...document.querySelectorAll('.share-list h3')].some((h) => h.textContent === 'From the browser')`)
	if strings.Contains(uiEval[string](t, ctx, `document.querySelector('.share-list').textContent`), strings.TrimPrefix(link, b.base+"/s/")) {
		t.Error("the share list shows the token")
	}
	// A refused address: the link is made, and the owner told to send it.
	uiDo(t, ctx, "create a link for an address that bounces",
		chromedp.SendKeys(chromedp.CSS(form+"input[name=label]"), "Bounced"),
		chromedp.SendKeys(chromedp.CSS(form+"input[name=send_to]"), "nobody@bounce.example"),
		chromedp.Click(chromedp.CSS(form+"button[type=submit]")))
	uiWait(t, ctx, "invite failure", `!!document.querySelector('.created .invite-failed')`)
	if got := uiText(t, ctx, ".created .invite-failed"); got != "The email could not be sent — copy the link and send it yourself." {
		t.Errorf("invite failure note %q", got)
	}
	if l := uiEval[string](t, ctx, `document.querySelector('.created input.mono').value`); l == link || !strings.HasPrefix(l, b.base+"/s/") {
		t.Errorf("second link %q", l)
	}
	if n := uiEval[int](t, ctx, `document.querySelectorAll('.created .invite-sent').length`); n != 0 {
		t.Error("a failed invite is also reported as sent")
	}
	uiWait(t, ctx, "the bounced link in the list", `[...document.querySelectorAll('.share-list h3')].some((h) => h.textContent === 'Bounced')`)

	// The server has them with the chosen options, and no more.
	_, body := b.e.do("GET", "/api/shares", nil, f.owner.bearer())
	var found, bounced bool
	for _, s := range decode[struct {
		Items []shareView `json:"items"`
	}](t, body).Items {
		switch s.Label {
		case "From the browser":
			found = true
			if s.AlbumID != f.album || s.Download != "original" || !s.StripLocation || s.ExpiresAt == nil ||
				s.SelectionLimit == nil || *s.SelectionLimit != 3 || !s.NotifyFirstView {
				t.Errorf("created share %+v", s)
			}
		case "Bounced":
			bounced = true
			if s.SelectionLimit != nil || s.NotifyFirstView || s.Download != "preview" {
				t.Errorf("second share kept options of the first: %+v", s)
			}
		}
	}
	if !found || !bounced {
		t.Fatalf("shares not on the server: %s", body)
	}

	// The link opens the gallery for a client (a fresh browser context).
	client := b.tab(t)
	uiDo(t, client, "open the new link", chromedp.Navigate(link))
	uiWait(t, client, "3 loaded thumbnails", uiThumbsLoaded(3))
	if got := uiText(t, client, ".g-head h1"); got != uiAlbumTitle {
		t.Errorf("gallery title %q", got)
	}
	// notify_first_view: the studio hears of the first visit.
	b.waitMail(t, "on the first view", "opened for the first time", "From the browser")
}

// testOwnerNoMail: on a second server, without SMTP, the share form turns
// the email fields off and says why, and still makes links.
func (b *uiBrowser) testOwnerNoMail(t *testing.T) {
	e := newTestEnv(t, nil)
	o := e.createOwner("nomail")
	a := e.newAlbum(o, "No mail")
	ctx := b.tab(t, uiOwnerExpected...)
	uiDo(t, ctx, "open the album's links signed out", chromedp.Navigate(e.http.URL+"/#/albums/"+a.ID+"/shares"),
		chromedp.WaitVisible(chromedp.CSS("form input[name=username]")))
	uiDo(t, ctx, "log in",
		chromedp.SendKeys(chromedp.CSS("form input[name=username]"), o.username),
		chromedp.SendKeys(chromedp.CSS("form input[name=password]"), o.password),
		chromedp.Click(chromedp.CSS("form button[type=submit]")))
	uiWait(t, ctx, "the share form knowing the server has no email", `(document.querySelector('.shares-layout form') || { dataset: {} }).dataset.mail === 'off'`)
	const hintOf = `((el) => { const h = document.getElementById(el.getAttribute('aria-describedby') || '');
		return h && !h.hidden && h.getBoundingClientRect().height > 0 ? h.textContent : ''; })`
	const f = `document.querySelector('.shares-layout form').elements`
	if !uiEval[bool](t, ctx, f+`.send_to.disabled && `+f+`.notify_first_view.disabled && `+f+`.message.disabled`) {
		t.Error("email fields enabled on a server without SMTP")
	}
	if got, want := uiEval[string](t, ctx, hintOf+`(`+f+`.send_to)`), "Email is not set up on this server (PHOTOVAULT_SMTP_HOST) — copy the link instead."; got != want {
		t.Errorf("email field hint %q, want %q", got, want)
	}
	if got := uiEval[string](t, ctx, hintOf+`(`+f+`.notify_first_view)`); !strings.Contains(got, "PHOTOVAULT_SMTP_HOST") {
		t.Errorf("first-view checkbox hint %q", got)
	}
	// Links are still made, to be copied.
	uiDo(t, ctx, "create a link",
		chromedp.SendKeys(chromedp.CSS(".shares-layout form input[name=label]"), "Copied by hand"),
		chromedp.Click(chromedp.CSS(".shares-layout form button[type=submit]")))
	uiWait(t, ctx, "created link", `!!(document.querySelector('.created input.mono') || {}).value`)
	if n := uiEval[int](t, ctx, `document.querySelectorAll('.created .invite-sent, .created .invite-failed, .shares-layout form .error:not(:empty)').length`); n != 0 {
		t.Errorf("%d invite notes or errors after creating a link without email", n)
	}
}

// ownerLogin signs in through the form (the UI uses cookie mode) and waits
// for the album list.
func (b *uiBrowser) ownerLogin(t *testing.T, ctx context.Context, f uiFixture) {
	t.Helper()
	uiDo(t, ctx, "open the owner app", chromedp.Navigate(b.base+"/"),
		chromedp.WaitVisible(chromedp.CSS("form input[name=username]")))
	// A wrong password first: the form says so and stays.
	uiDo(t, ctx, "wrong login",
		chromedp.SendKeys(chromedp.CSS("form input[name=username]"), f.owner.username),
		chromedp.SendKeys(chromedp.CSS("form input[name=password]"), "wrong-password-123"),
		chromedp.Click(chromedp.CSS("form button[type=submit]")))
	uiWait(t, ctx, "login error", `(document.querySelector('form .error') || {}).textContent === 'Wrong username or password.'`)
	uiDo(t, ctx, "log in",
		chromedp.Clear(chromedp.CSS("form input[name=password]")),
		chromedp.SendKeys(chromedp.CSS("form input[name=password]"), f.owner.password),
		chromedp.Click(chromedp.CSS("form button[type=submit]")))
	uiWait(t, ctx, "album list", fmt.Sprintf(`[...document.querySelectorAll('.album-card h3')].some((h) => h.textContent === %s)`, uiJS(uiAlbumTitle)))
	if got := uiText(t, ctx, ".topbar .user"); got != f.owner.username {
		t.Errorf("top bar user %q", got)
	}
}

func (b *uiBrowser) testScreenshots(t *testing.T, f uiFixture) {
	phone := b.tab(t)
	uiDo(t, phone, "phone viewport", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile, chromedp.EmulateScale(1)))
	uiDo(t, phone, "open gallery", chromedp.Navigate(b.base+"/s/"+f.share.Token))
	uiWait(t, phone, "3 loaded thumbnails", uiThumbsLoaded(3))
	if w := uiEval[int](t, phone, `document.documentElement.scrollWidth`); w > 390 {
		t.Errorf("gallery scrolls sideways on a phone: %d px wide", w)
	}
	b.screenshot(t, phone, "gallery-phone.png", 390, 844)

	owner := b.tab(t, uiOwnerExpected...)
	uiDo(t, owner, "desktop viewport", chromedp.EmulateViewport(1280, 800))
	b.ownerLogin(t, owner, f)
	uiDo(t, owner, "open the album", chromedp.Navigate(b.base+"/#/albums/"+f.album))
	uiWait(t, owner, "3 loaded photos", `(() => { const im = [...document.querySelectorAll('.media-grid figure.tile img')];
		return im.length === 3 && im.every((i) => i.complete && i.naturalWidth > 0); })()`)
	b.screenshot(t, owner, "owner-album.png", 1280, 800)
}

// screenshot captures the viewport and checks it is a PNG of that size with
// more than a blank page in it.
func (b *uiBrowser) screenshot(t *testing.T, ctx context.Context, name string, w, h int) {
	t.Helper()
	tctx, cancel := context.WithTimeout(ctx, uiStepTimeout)
	defer cancel()
	buf, err := chromedp.Run(tctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	img, err := png.Decode(bytes.NewReader(buf))
	if err != nil {
		t.Fatalf("screenshot %s is no PNG: %v", name, err)
	}
	if got := img.Bounds().Size(); got != image.Pt(w, h) {
		t.Errorf("screenshot %s is %v, want %dx%d", name, got, w, h)
	}
	if len(buf) < 10<<10 || uiColours(img) < 64 {
		t.Errorf("screenshot %s looks blank: %d bytes, %d colours", name, len(buf), uiColours(img))
	}
	dirs := []string{b.shots}
	if d := os.Getenv("PHOTOVAULT_SCREENSHOT_DIR"); d != "" {
		dirs = append(dirs, d)
	}
	for _, d := range dirs {
		if err := os.WriteFile(filepath.Join(d, name), buf, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("screenshot %s: %dx%d, %d bytes", name, img.Bounds().Dx(), img.Bounds().Dy(), len(buf))
}

// uiColours counts colours on a coarse grid (enough to tell a page with
// photos from a blank one).
func uiColours(img image.Image) int {
	seen := map[[3]uint32]bool{}
	r := img.Bounds()
	for y := r.Min.Y; y < r.Max.Y; y += 4 {
		for x := r.Min.X; x < r.Max.X; x += 4 {
			cr, cg, cb, _ := img.At(x, y).RGBA()
			seen[[3]uint32{cr >> 10, cg >> 10, cb >> 10}] = true
		}
	}
	return len(seen)
}

// testConsoleClean fails on any uncaught exception, CSP violation, console
// error or warning, or unexpected failed request on the pages above. A
// deliberate inline style first proves the collector sees CSP violations.
func (b *uiBrowser) testConsoleClean(t *testing.T, f uiFixture) {
	b.mu.Lock()
	seen := append([]uiLogEntry(nil), b.entries...)
	b.mu.Unlock()
	var bad int
	for _, l := range seen {
		switch {
		case l.allowed:
			t.Logf("expected: %s", l)
		case l.level == "verbose" || l.level == "debug" || l.level == "info" || l.level == "log":
			t.Logf("info: %s", l)
		default:
			bad++
			t.Errorf("console: %s", l)
		}
	}
	if bad == 0 {
		t.Logf("%d console entries on the pages above, none an error", len(seen))
	}

	// Positive control: an inline <style> must be refused by the page's CSP,
	// and the refusal must reach the collector.
	ctx := b.tab(t)
	name := t.Name()
	uiDo(t, ctx, "open gallery", chromedp.Navigate(b.base+"/s/"+f.xss.Token))
	uiWait(t, ctx, "1 loaded thumbnail", uiThumbsLoaded(1))
	if got := uiEval[string](t, ctx, `(() => { const s = document.createElement('style'); s.textContent = 'body { background: rgb(1, 2, 3) !important; }';
		document.head.appendChild(s); return getComputedStyle(document.body).backgroundColor; })()`); got == "rgb(1, 2, 3)" {
		t.Error("inline style applied: the page has no effective style-src CSP")
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		var refused bool
		b.mu.Lock()
		for _, l := range b.entries {
			if l.tab == name && strings.Contains(l.text, "Content Security Policy") {
				refused = true
				t.Logf("control: %s", l)
			}
		}
		b.mu.Unlock()
		if refused {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no CSP violation reported for an inline style: the console check above proves nothing")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
