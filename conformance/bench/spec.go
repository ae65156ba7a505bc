package bench

import (
	"fmt"
	"path/filepath"
	"strings"
)

// Target is one parsed target specification: either a directory that
// already exists (native storage, or a mount someone else made) or a
// command that mounts a filesystem and that the tool starts and stops.
type Target struct {
	// Name identifies the target in the table, the CSV and every error.
	Name string
	// Label is free text carried by NAME@LABEL, usually the libfuse build
	// ("libfuse2", "libfuse3") the command was built with.
	Label string
	// Dir is the directory workloads run in, for a directory target.
	Dir string
	// Command is the argv of a cmd: target, with the {src} and {mnt}
	// placeholders still in it (see Expand).
	Command []string
}

// Placeholders a cmd: target may use. {mnt} is required: a command that is
// not told where to mount cannot be benchmarked.
const (
	PlaceholderSrc = "{src}"
	PlaceholderMnt = "{mnt}"
)

// IsCommand reports whether the tool starts this target itself.
func (t Target) IsCommand() bool { return len(t.Command) > 0 }

// Kind is "cmd" or "dir".
func (t Target) Kind() string {
	if t.IsCommand() {
		return "cmd"
	}
	return "dir"
}

// Expand returns the command's argv with {src} and {mnt} replaced, also
// inside longer words such as "-o,source={src}".
func (t Target) Expand(src, mnt string) []string {
	argv := make([]string, len(t.Command))
	for i, w := range t.Command {
		w = strings.ReplaceAll(w, PlaceholderSrc, src)
		argv[i] = strings.ReplaceAll(w, PlaceholderMnt, mnt)
	}
	return argv
}

// Describe is the target's definition as a human reads it: the directory,
// or the command line (quoted where a word needs it).
func (t Target) Describe() string {
	if !t.IsCommand() {
		return t.Dir
	}
	words := make([]string, len(t.Command))
	for i, w := range t.Command {
		if w == "" || strings.ContainsAny(w, " \t\n'\"\\") {
			w = "'" + strings.ReplaceAll(w, "'", `'\''`) + "'"
		}
		words[i] = w
	}
	return strings.Join(words, " ")
}

// SpecError reports a target specification that cannot be used. Target is
// the name when it could be parsed, otherwise the whole specification.
type SpecError struct {
	Target string
	Reason string
}

func (e *SpecError) Error() string {
	return fmt.Sprintf("target %q: %s", e.Target, e.Reason)
}

const specSyntax = "want NAME=DIR or NAME=cmd:COMMAND (optionally NAME@LABEL=...)"

// ParseTarget parses one specification:
//
//	NAME=DIR                a directory (created if missing)
//	NAME=cmd:COMMAND ARGS   a command that mounts on {mnt}, serving {src}
//	NAME@LABEL=...          either form, with a label shown beside the name
//
// NAME and LABEL use letters, digits and ". _ - +" (NAME not "+"), so they
// survive CSV and shell quoting. COMMAND is split into words like a shell
// would split it (single quotes, double quotes and backslashes), but nothing
// is expanded except the placeholders; it is run directly, not through sh,
// so SIGTERM reaches the filesystem process itself.
func ParseTarget(spec string) (Target, error) {
	head, value, ok := strings.Cut(spec, "=")
	if !ok {
		return Target{}, &SpecError{spec, "no '=': " + specSyntax}
	}
	name, label, hasLabel := strings.Cut(head, "@")
	if name == "" {
		return Target{}, &SpecError{spec, "empty name: " + specSyntax}
	}
	if c, bad := firstInvalid(name, "._-"); bad {
		return Target{}, &SpecError{name, fmt.Sprintf("character %q not allowed in a name (letters, digits, '.', '_', '-')", c)}
	}
	t := Target{Name: name}
	if hasLabel {
		if label == "" {
			return Target{}, &SpecError{name, "empty label after '@'"}
		}
		if c, bad := firstInvalid(label, "._-+"); bad {
			return Target{}, &SpecError{name, fmt.Sprintf("character %q not allowed in label %q (letters, digits, '.', '_', '-', '+')", c, label)}
		}
		t.Label = label
	}
	if cmdline, isCmd := strings.CutPrefix(value, "cmd:"); isCmd {
		words, err := splitWords(cmdline)
		if err != nil {
			return Target{}, &SpecError{name, "command: " + err.Error()}
		}
		if len(words) == 0 {
			return Target{}, &SpecError{name, "empty command after cmd:"}
		}
		if err := checkPlaceholders(words); err != nil {
			return Target{}, &SpecError{name, err.Error()}
		}
		t.Command = words
		return t, nil
	}
	if value == "" {
		return Target{}, &SpecError{name, "empty directory: " + specSyntax}
	}
	if strings.ContainsRune(value, 0) {
		return Target{}, &SpecError{name, "directory contains a NUL byte"}
	}
	abs, err := filepath.Abs(value)
	if err != nil {
		return Target{}, &SpecError{name, "directory: " + err.Error()}
	}
	t.Dir = abs
	return t, nil
}

// ParseTargets parses every specification and checks that names are
// unique. The first target is the reference every ratio is computed
// against.
func ParseTargets(specs []string) ([]Target, error) {
	if len(specs) == 0 {
		return nil, fmt.Errorf("no targets: %s", specSyntax)
	}
	seen := make(map[string]bool, len(specs))
	targets := make([]Target, 0, len(specs))
	for _, s := range specs {
		t, err := ParseTarget(s)
		if err != nil {
			return nil, err
		}
		if seen[t.Name] {
			return nil, &SpecError{t.Name, "name used twice"}
		}
		seen[t.Name] = true
		targets = append(targets, t)
	}
	return targets, nil
}

func firstInvalid(s, extra string) (rune, bool) {
	for _, c := range s {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.ContainsRune(extra, c):
		default:
			return c, true
		}
	}
	return 0, false
}

// checkPlaceholders requires {mnt} and rejects unknown {word} placeholders,
// which are almost always a typo ({mount}, {source}) that would otherwise
// reach the command literally.
func checkPlaceholders(words []string) error {
	hasMnt := false
	for _, w := range words {
		rest := w
		for {
			i := strings.IndexByte(rest, '{')
			if i < 0 {
				break
			}
			rest = rest[i:]
			j := strings.IndexByte(rest, '}')
			if j < 0 {
				break
			}
			ph := rest[:j+1]
			switch {
			case ph == PlaceholderMnt:
				hasMnt = true
			case ph == PlaceholderSrc:
			case isWord(ph[1:j]):
				return fmt.Errorf("unknown placeholder %s in %q (known: {src}, {mnt})", ph, w)
			}
			rest = rest[1:]
		}
	}
	if !hasMnt {
		return fmt.Errorf("command has no {mnt} placeholder: the tool must tell it where to mount")
	}
	return nil
}

func isWord(s string) bool {
	if s == "" {
		return false
	}
	_, bad := firstInvalid(s, "_")
	return !bad
}

// splitWords splits a command line the way a POSIX shell splits words:
// blanks separate words, single quotes keep everything literal, double
// quotes keep everything but \" and \\, a backslash outside quotes escapes
// the next character. Nothing is expanded.
func splitWords(s string) ([]string, error) {
	var (
		words   []string
		cur     strings.Builder
		inWord  bool
		quote   byte // 0, '\'' or '"'
		escaped bool
	)
	if strings.ContainsRune(s, 0) {
		return nil, fmt.Errorf("NUL byte in command")
	}
	// Bytes, not runes: every special character is ASCII, and other bytes
	// (paths need not be UTF-8) must pass through unchanged.
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case escaped:
			if quote == '"' && c != '"' && c != '\\' {
				cur.WriteByte('\\')
			}
			cur.WriteByte(c)
			escaped = false
		case quote == '\'':
			if c == '\'' {
				quote = 0
			} else {
				cur.WriteByte(c)
			}
		case quote == '"':
			switch c {
			case '"':
				quote = 0
			case '\\':
				escaped = true
			default:
				cur.WriteByte(c)
			}
		case c == '\\':
			escaped, inWord = true, true
		case c == '\'' || c == '"':
			quote, inWord = c, true
		case c == ' ' || c == '\t' || c == '\n':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	switch {
	case escaped:
		return nil, fmt.Errorf("trailing backslash in %q", s)
	case quote != 0:
		return nil, fmt.Errorf("unterminated %c quote in %q", quote, s)
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}
