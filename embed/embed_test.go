package embed

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io/fs"
	"path"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/net/html"
)

// cspViolations lists everything in an HTML document that the server's CSP
// (script-src 'self'; style-src 'self'; no unsafe-inline) would block or that
// would pull from another origin: inline scripts, <style> blocks, style=
// attributes, on*= handlers, javascript: URLs and external URLs.
func cspViolations(doc []byte) []string {
	var out []string
	z := html.NewTokenizer(bytes.NewReader(doc))
	inScript := false
	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			return out
		case html.TextToken:
			if inScript && strings.TrimSpace(string(z.Text())) != "" {
				out = append(out, "inline script content")
			}
		case html.EndTagToken:
			if name, _ := z.TagName(); string(name) == "script" {
				inScript = false
			}
		case html.StartTagToken, html.SelfClosingTagToken:
			name, hasAttr := z.TagName()
			tag := string(name)
			attrs := map[string]string{}
			for hasAttr {
				var k, v []byte
				k, v, hasAttr = z.TagAttr()
				key := strings.ToLower(string(k))
				attrs[key] = string(v)
				switch {
				case key == "style":
					out = append(out, tag+": style attribute")
				case strings.HasPrefix(key, "on"):
					out = append(out, tag+": "+key+" handler attribute")
				case key == "src" || key == "href" || key == "action" || key == "formaction":
					val := strings.ToLower(strings.TrimSpace(string(v)))
					if strings.HasPrefix(val, "javascript:") {
						out = append(out, tag+": javascript: URL")
					}
					if strings.HasPrefix(val, "http:") || strings.HasPrefix(val, "https:") || strings.HasPrefix(val, "//") {
						out = append(out, tag+": external URL "+val)
					}
				}
			}
			switch tag {
			case "script":
				if attrs["src"] == "" {
					out = append(out, "inline script without src")
				}
				inScript = tt == html.StartTagToken
			case "style":
				out = append(out, "inline <style> element")
			}
		}
	}
}

// localRefs returns the same-origin absolute paths an HTML page references.
func localRefs(doc []byte) []string {
	var refs []string
	z := html.NewTokenizer(bytes.NewReader(doc))
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			return refs
		}
		if tt != html.StartTagToken && tt != html.SelfClosingTagToken {
			continue
		}
		_, hasAttr := z.TagName()
		for hasAttr {
			var k, v []byte
			k, v, hasAttr = z.TagAttr()
			key := string(k)
			if (key == "src" || key == "href") && strings.HasPrefix(string(v), "/") && !strings.HasPrefix(string(v), "//") {
				refs = append(refs, string(v))
			}
		}
	}
}

func TestFSHoldsPages(t *testing.T) {
	fsys := FS()
	for _, name := range []string{"index.html", "gallery.html"} {
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			t.Fatalf("read %s: %v", name, err)
		}
		if !bytes.Contains(b, []byte(`<div id="app">`)) {
			t.Errorf("%s has no app root", name)
		}
		if !bytes.Contains(b, []byte(`<meta name="referrer" content="no-referrer">`)) {
			t.Errorf("%s lacks the no-referrer meta (share tokens live in the URL)", name)
		}
		if !bytes.Contains(b, []byte(`rel="icon"`)) || !bytes.Contains(b, []byte(`rel="manifest"`)) {
			t.Errorf("%s lacks favicon or manifest link", name)
		}
	}
}

func TestReferencedAssetsExist(t *testing.T) {
	fsys := FS()
	pages := []string{"index.html", "gallery.html"}
	var scripts int
	for _, page := range pages {
		b, err := fs.ReadFile(fsys, page)
		if err != nil {
			t.Fatal(err)
		}
		refs := localRefs(b)
		if len(refs) < 4 {
			t.Errorf("%s references only %v", page, refs)
		}
		for _, ref := range refs {
			if !strings.HasPrefix(ref, "/assets/") {
				t.Errorf("%s: reference %s is outside /assets/", page, ref)
				continue
			}
			if _, err := fs.Stat(fsys, strings.TrimPrefix(ref, "/")); err != nil {
				t.Errorf("%s: %s missing: %v", page, ref, err)
			}
			if strings.HasSuffix(ref, ".js") {
				scripts++
			}
		}
	}
	if scripts < 2 {
		t.Errorf("want at least one script per page, got %d", scripts)
	}

	// JS chunks import each other by relative path; manifests name their icons.
	importRE := regexp.MustCompile(`(?:from|import\()\s*"(\./[^"]+\.js)"`)
	err := fs.WalkDir(fsys, "assets", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		switch path.Ext(p) {
		case ".js":
			for _, m := range importRE.FindAllSubmatch(b, -1) {
				target := path.Join(path.Dir(p), string(m[1]))
				if _, err := fs.Stat(fsys, target); err != nil {
					t.Errorf("%s imports missing %s", p, target)
				}
			}
		case ".webmanifest":
			var man struct {
				Name  string `json:"name"`
				Icons []struct {
					Src string `json:"src"`
				} `json:"icons"`
			}
			if err := json.Unmarshal(b, &man); err != nil {
				t.Errorf("%s: %v", p, err)
			}
			if man.Name == "" || len(man.Icons) == 0 {
				t.Errorf("%s: needs a name and an icon", p)
			}
			for _, ic := range man.Icons {
				if _, err := fs.Stat(fsys, strings.TrimPrefix(ic.Src, "/")); err != nil {
					t.Errorf("%s: icon %s missing", p, ic.Src)
				}
			}
		case ".map":
			t.Errorf("%s: source maps are not shipped", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestHTMLIsCSPCompatible(t *testing.T) {
	fsys := FS()
	pages, err := fs.Glob(fsys, "*.html")
	if err != nil {
		t.Fatal(err)
	}
	if len(pages) < 2 {
		t.Fatalf("want index.html and gallery.html, got %v", pages)
	}
	for _, p := range pages {
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			t.Fatal(err)
		}
		if v := cspViolations(b); len(v) > 0 {
			t.Errorf("%s: %v", p, v)
		}
	}
}

// The checker must catch what the CSP blocks, or the test above proves nothing.
func TestCSPCheckerRejectsInlineCode(t *testing.T) {
	bad := map[string]string{
		"inline script":        `<html><body><script>alert(1)</script></body></html>`,
		"script without src":   `<script type="module"></script>`,
		"style attribute":      `<div STYLE="color:red">x</div>`,
		"onclick attribute":    `<button onclick="go()">x</button>`,
		"onload on body":       `<body onload="x()"></body>`,
		"style element":        `<style>body{}</style>`,
		"javascript: URL":      `<a href="javascript:alert(1)">x</a>`,
		"CDN script":           `<script src="https://cdn.example/x.js"></script>`,
		"protocol-relative":    `<link rel="stylesheet" href="//cdn.example/x.css">`,
		"external font":        `<link rel="preload" href="http://fonts.example/f.woff2">`,
		"self-closing onerror": `<img src="/x.png" onerror="x()"/>`,
	}
	for name, doc := range bad {
		if v := cspViolations([]byte(doc)); len(v) == 0 {
			t.Errorf("%s: not detected", name)
		}
	}
	good := `<html><head><script type="module" src="/assets/a.js"></script><link rel="stylesheet" href="/assets/a.css"></head><body><div id="app"></div></body></html>`
	if v := cspViolations([]byte(good)); len(v) != 0 {
		t.Errorf("clean page flagged: %v", v)
	}
}

// TestJSBudget keeps the shipped JavaScript small: gzip total < 60 KB,
// PhotoSwipe (loaded on demand) excluded.
func TestJSBudget(t *testing.T) {
	fsys := FS()
	js, err := fs.Glob(fsys, "assets/*.js")
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, p := range js {
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte("PhotoSwipe 5.")) && !bytes.Contains(b, []byte("pv_fav_")) {
			continue // the PhotoSwipe chunk, loaded when the lightbox opens
		}
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		if _, err := zw.Write(b); err != nil {
			t.Fatal(err)
		}
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
		total += buf.Len()
	}
	t.Logf("JS gzip total excluding PhotoSwipe: %d bytes", total)
	if total == 0 || total > 60*1024 {
		t.Errorf("JS gzip total %d bytes, want 1..%d", total, 60*1024)
	}
}
