package bench

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseTarget(t *testing.T) {
	tests := []struct {
		spec string
		want Target
	}{
		{"native=/tmp/bench/native", Target{Name: "native", Dir: "/tmp/bench/native"}},
		{"n=/a/b/../c/", Target{Name: "n", Dir: "/a/c"}},
		{"sdk-fuse2@libfuse2=cmd:./bin/passthrough-fuse2 {src} {mnt}",
			Target{Name: "sdk-fuse2", Label: "libfuse2", Command: []string{"./bin/passthrough-fuse2", "{src}", "{mnt}"}}},
		{"x=cmd:  prog   -o  allow_other,fsname={src}   {mnt}  ",
			Target{Name: "x", Command: []string{"prog", "-o", "allow_other,fsname={src}", "{mnt}"}}},
		{`q=cmd:prog 'a b' "c \"d\" \\ \e" f\ g '' {mnt}`,
			Target{Name: "q", Command: []string{"prog", "a b", `c "d" \ \e`, "f g", "", "{mnt}"}}},
		{"memfs=cmd:memfs {mnt}", Target{Name: "memfs", Command: []string{"memfs", "{mnt}"}}},
		{"peer@C+libfuse3=cmd:bindfs {src} {mnt}", Target{Name: "peer", Label: "C+libfuse3", Command: []string{"bindfs", "{src}", "{mnt}"}}},
		{"d=dir=with=equals", Target{Name: "d", Dir: mustAbs(t, "dir=with=equals")}},
		{"b=cmd:p \xff\xfe {mnt}", Target{Name: "b", Command: []string{"p", "\xff\xfe", "{mnt}"}}},
		{"j=cmd:prog --json={\"a\":1} {mnt}", Target{Name: "j", Command: []string{"prog", `--json={a:1}`, "{mnt}"}}},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			got, err := ParseTarget(tt.spec)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func mustAbs(t *testing.T, p string) string {
	abs, err := filepath.Abs(p)
	require.NoError(t, err)
	return abs
}

func TestParseTargetErrors(t *testing.T) {
	tests := []struct {
		spec, target, reason string
	}{
		{"native", "native", "no '='"},
		{"=/tmp", "=/tmp", "empty name"},
		{"a b=/tmp", "a b", `character ' '`},
		{"a@=/tmp", "a", "empty label"},
		{"a@x y=/tmp", "a", "not allowed in label"},
		{"a=", "a", "empty directory"},
		{"a=cmd:", "a", "empty command"},
		{"a=cmd:prog {src}", "a", "no {mnt} placeholder"},
		{"a=cmd:prog {mount}", "a", "unknown placeholder {mount}"},
		{"a=cmd:prog 'unterminated {mnt}", "a", "unterminated ' quote"},
		{`a=cmd:prog {mnt} \`, "a", "trailing backslash"},
		{"a=cmd:prog\x00 {mnt}", "a", "NUL byte"},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			_, err := ParseTarget(tt.spec)
			var se *SpecError
			require.ErrorAs(t, err, &se)
			assert.Equal(t, tt.target, se.Target)
			assert.Contains(t, err.Error(), tt.reason)
			assert.Contains(t, err.Error(), fmt.Sprintf("target %q", tt.target))
		})
	}
}

func TestParseTargets(t *testing.T) {
	got, err := ParseTargets([]string{"native=/n", "sdk=cmd:p {src} {mnt}"})
	require.NoError(t, err)
	require.Len(t, got, 2)
	assert.Equal(t, "dir", got[0].Kind())
	assert.Equal(t, "cmd", got[1].Kind())

	_, err = ParseTargets(nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "no targets")

	_, err = ParseTargets([]string{"a=/x", "b=/y", "a@l=cmd:p {mnt}"})
	var se *SpecError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, "a", se.Target)
	assert.Contains(t, err.Error(), "used twice")
}

func TestExpandAndDescribe(t *testing.T) {
	tg, err := ParseTarget(`t=cmd:prog -o source={src} 'two words' {mnt}`)
	require.NoError(t, err)
	assert.Equal(t, []string{"prog", "-o", "source=/s p", "two words", "/m"}, tg.Expand("/s p", "/m"))
	assert.Equal(t, []string{"prog", "-o", "source={src}", "two words", "{mnt}"}, tg.Command, "Expand must not modify the target")
	assert.Equal(t, `prog -o source={src} 'two words' {mnt}`, tg.Describe())

	// Describe quotes so that the description parses back to the same argv.
	odd := Target{Name: "o", Command: []string{"p", "it's", "", `a\b`, "{mnt}"}}
	back, err := ParseTarget("o=cmd:" + odd.Describe())
	require.NoError(t, err)
	assert.Equal(t, odd.Command, back.Command)

	assert.Equal(t, "/d", Target{Name: "d", Dir: "/d"}.Describe())
}

func FuzzParseTarget(f *testing.F) {
	for _, s := range []string{
		"native=/tmp/x", "a@b=cmd:prog {src} {mnt}", `q=cmd:p 'a b' "c\"d" e\ f {mnt}`,
		"a=cmd:p {mount}", "a=cmd:'", "=", "a@=x", "x=cmd:{mnt}{src}{",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		tg, err := ParseTarget(spec)
		if err != nil {
			var se *SpecError
			if !errors.As(err, &se) {
				t.Fatalf("error %v is not a *SpecError", err)
			}
			return
		}
		if tg.Name == "" || strings.ContainsAny(tg.Name, "=@, \n\"") {
			t.Fatalf("bad name %q accepted from %q", tg.Name, spec)
		}
		if !tg.IsCommand() {
			if !filepath.IsAbs(tg.Dir) {
				t.Fatalf("directory %q not absolute", tg.Dir)
			}
			return
		}
		joined := strings.Join(tg.Command, " ")
		if !strings.Contains(joined, PlaceholderMnt) {
			t.Fatalf("command %q accepted without {mnt}", tg.Command)
		}
		// What Describe prints must parse back to the same argv.
		back, err := ParseTarget(tg.Name + "=cmd:" + tg.Describe())
		if err != nil {
			t.Fatalf("Describe %q does not parse back: %v", tg.Describe(), err)
		}
		if strings.Join(back.Command, "\x00") != strings.Join(tg.Command, "\x00") || len(back.Command) != len(tg.Command) {
			t.Fatalf("round trip changed %q into %q", tg.Command, back.Command)
		}
	})
}

func ExampleParseTarget() {
	t, err := ParseTarget("sdk-fuse3@libfuse3=cmd:./bin/passthrough-fuse3 -attr-timeout 5s {src} {mnt}")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(t.Name, t.Label, t.Kind())
	fmt.Printf("%q\n", t.Expand("/w/src", "/w/mnt"))

	_, err = ParseTarget("cgofuse=cmd:./bin/cgofuse-passthrough {src}")
	fmt.Println(err)
	// Output:
	// sdk-fuse3 libfuse3 cmd
	// ["./bin/passthrough-fuse3" "-attr-timeout" "5s" "/w/src" "/w/mnt"]
	// target "cgofuse": command has no {mnt} placeholder: the tool must tell it where to mount
}
