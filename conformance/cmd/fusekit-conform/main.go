// Command fusekit-conform checks a directory against POSIX: it runs the
// conformance suite and then the exerciser (seeded random file and
// namespace operations checked against an in-memory oracle) in fresh
// subdirectories of DIR, and ends with the line
//
//	N passed, N failed, N skipped
//
// It exits 0 when nothing failed, 1 when something did, and 2 on a usage
// error. DIR is usually a FUSE mount served by another process; -features
// says what the filesystem claims, so that tests of unclaimed features are
// skipped rather than failed.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	iofs "io/fs"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/fusekit/fusekit/conformance"
	"github.com/fusekit/fusekit/conformance/exerciser"
)

const usageText = `usage: fusekit-conform [flags] DIR

Runs the POSIX conformance suite and the exerciser against DIR (a FUSE
mount or any directory; it must exist and be writable) and prints one line
per result that did not pass, then "N passed, N failed, N skipped".
Exit status: 0 if nothing failed, 1 if something did, 2 on bad usage.

Examples:
  fusekit-conform /mnt/myfs
  fusekit-conform -features all,-xattrs,-odirect -ops 100000 /mnt/myfs
  fusekit-conform -features none -run '^(io|dir)/' /mnt/myfs
  fusekit-conform -run '^exerciser/' -ops 20000 -seed 7 /tmp/scratch
  fusekit-conform -json /mnt/myfs > results.json

Flags:
`

// exerciserNames are the result names of the two exerciser runs; -run
// selects them like suite tests.
const (
	exerciserFile      = "exerciser/file"
	exerciserNamespace = "exerciser/namespace"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// options are the parsed command line.
type options struct {
	dir        string
	features   conformance.Features
	ops        int
	seed       uint64
	maxSize    int64
	match      *regexp.Regexp
	jsonOut    bool
	verbose    bool
	timeout    time.Duration
	exTimeout  time.Duration
	featureArg string
	limits     []conformance.Limitation
	upper      string
	lowers     []string
}

// run is the whole command, with its streams as arguments so that tests can
// run it in-process. It returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	opts, err := parseArgs(args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, usage())
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "fusekit-conform: %v\n", err)
		fmt.Fprintf(stderr, "run 'fusekit-conform -h' for usage\n")
		return 2
	}

	var progress io.Writer
	if opts.verbose {
		progress = stderr
	}
	match := func(name string) bool { return opts.match == nil || opts.match.MatchString(name) }
	results := conformance.Run(opts.dir, opts.features, conformance.RunOptions{
		Match:   match,
		Log:     progress,
		Timeout: opts.timeout,
	})
	for _, mode := range []string{exerciserFile, exerciserNamespace} {
		if !match(mode) {
			continue
		}
		r := runExerciser(opts, mode)
		if progress != nil {
			fmt.Fprintf(progress, "--- %s %s (%s)\n", r.Status, r.Name, r.Duration.Round(time.Millisecond))
			for _, line := range strings.Split(r.Message, "\n") {
				fmt.Fprintf(progress, "    %s\n", line)
			}
		}
		results = append(results, r)
	}

	passed, failed, skipped := conformance.Summary(results)
	if opts.jsonOut {
		if err := writeJSON(stdout, opts, results, passed, failed, skipped); err != nil {
			fmt.Fprintf(stderr, "fusekit-conform: writing JSON: %v\n", err)
			return 1
		}
	} else {
		for _, r := range results {
			if r.Status != conformance.Pass {
				writeResult(stdout, r)
			}
		}
		fmt.Fprintf(stdout, "%d passed, %d failed, %d skipped\n", passed, failed, skipped)
	}
	if failed > 0 {
		return 1
	}
	return 0
}

// usage returns the -h text: the synopsis, examples and every flag.
func usage() string {
	var b strings.Builder
	fs, _, _ := newFlagSet()
	fs.SetOutput(&b)
	b.WriteString(usageText)
	fs.PrintDefaults()
	return b.String()
}

// newFlagSet declares the flags; it stays silent, run reports errors.
func newFlagSet() (*flag.FlagSet, *options, *string) {
	fs := flag.NewFlagSet("fusekit-conform", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	var (
		o       options
		pattern string
	)
	fs.StringVar(&o.featureArg, "features", "all",
		"what DIR supports: comma-separated, applied left to right; \"all\", \"none\", a feature, \"-feature\", granularity=DURATION\n(features: "+
			strings.Join(conformance.FeatureNames(), ", ")+")")
	fs.IntVar(&o.ops, "ops", 10000, "exerciser operations in file mode (namespace mode runs a quarter as many); 0 skips the exerciser")
	fs.Uint64Var(&o.seed, "seed", 1, "exerciser seed; 0 picks one from the clock (and prints it in the results)")
	fs.Int64Var(&o.maxSize, "maxsize", exerciser.DefaultMaxSize, "largest file size, in bytes, the exerciser makes")
	fs.StringVar(&pattern, "run", "", "run only the tests whose name matches `REGEXP`; the exerciser runs are named "+exerciserFile+" and "+exerciserNamespace)
	fs.BoolVar(&o.jsonOut, "json", false, "print one JSON object with every result and the counts instead of text")
	fs.BoolVar(&o.verbose, "v", false, "print a progress line per result on stderr")
	fs.DurationVar(&o.timeout, "timeout", conformance.DefaultTimeout, "time limit of each suite test")
	fs.DurationVar(&o.exTimeout, "exerciser-timeout", 10*time.Minute, "time limit of each exerciser run, shrinking included")
	fs.Func("limit", "a known limitation of DIR, `TEST=REASON` (TEST a test name or GROUP/*): the test still runs and is reported as an expected failure, or as XPASS if it passes; repeatable",
		func(v string) error {
			test, reason, ok := strings.Cut(v, "=")
			if !ok || test == "" || reason == "" {
				return fmt.Errorf("want TEST=REASON, got %q", v)
			}
			o.limits = append(o.limits, conformance.Limitation{Test: test, Reason: reason})
			return nil
		})
	fs.StringVar(&o.upper, "upper", "", "for an overlay: its upper layer `DIR`, so the overlay tests can check copy-up, whiteouts and opaque markers on disk")
	fs.Func("lower", "for an overlay: a lower layer `DIR`; repeat, top-most first", func(v string) error {
		o.lowers = append(o.lowers, v)
		return nil
	})
	return fs, &o, &pattern
}

func parseArgs(args []string) (*options, error) {
	fs, opts, pattern := newFlagSet()
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	o := *opts

	var err error
	if o.features, err = conformance.ParseFeatures(o.featureArg); err != nil {
		return nil, fmt.Errorf("-features: %v", err)
	}
	o.features.Limitations = append(o.features.Limitations, o.limits...)
	if o.upper != "" || len(o.lowers) > 0 {
		if o.upper == "" || len(o.lowers) == 0 {
			return nil, errors.New("-upper and -lower: an overlay needs its upper layer and at least one lower layer")
		}
		for _, d := range append([]string{o.upper}, o.lowers...) {
			if fi, err := os.Stat(d); err != nil || !fi.IsDir() {
				return nil, fmt.Errorf("overlay layer %q is not a directory", d)
			}
		}
		o.features.Overlay = &conformance.OverlayLayers{Upper: o.upper, Lowers: o.lowers}
	}
	if *pattern != "" {
		if o.match, err = regexp.Compile(*pattern); err != nil {
			return nil, fmt.Errorf("-run %q: %v", *pattern, err)
		}
	}
	switch {
	case o.ops < 0:
		return nil, fmt.Errorf("-ops %d: want 0 or more", o.ops)
	case o.maxSize < 1:
		return nil, fmt.Errorf("-maxsize %d: want 1 or more", o.maxSize)
	case o.timeout <= 0:
		return nil, fmt.Errorf("-timeout %v: want a positive duration", o.timeout)
	case o.exTimeout <= 0:
		return nil, fmt.Errorf("-exerciser-timeout %v: want a positive duration", o.exTimeout)
	}
	if o.seed == 0 {
		o.seed = uint64(time.Now().UnixNano())
	}

	switch fs.NArg() {
	case 0:
		return nil, errors.New("missing DIR, the directory to test")
	case 1:
	default:
		return nil, fmt.Errorf("want one DIR, got %d arguments: %q", fs.NArg(), fs.Args())
	}
	o.dir = fs.Arg(0)
	fi, err := os.Stat(o.dir)
	if err != nil {
		var pe *iofs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, fmt.Errorf("DIR %s: %v", o.dir, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("DIR %s is not a directory", o.dir)
	}
	return &o, nil
}

// exerciserConfig maps the suite's feature claims onto the exerciser's.
func exerciserConfig(o *options, mode string) exerciser.Config {
	cfg := exerciser.Config{
		Seed:    o.seed,
		Ops:     o.ops,
		MaxSize: o.maxSize,
		Features: exerciser.Features{
			Mmap:      o.features.Mmap,
			ODirect:   o.features.ODirect,
			HardLinks: o.features.HardLinks,
			Symlinks:  o.features.Symlinks,
		},
	}
	if mode == exerciserNamespace {
		cfg.Ops = max(1, o.ops/4)
	}
	return cfg
}

// runExerciser runs one exerciser mode in a fresh subdirectory of DIR and
// turns the outcome into a result. A run that exceeds -exerciser-timeout
// fails and is abandoned (it may be stuck in a system call on a hung
// mount), leaving its subdirectory behind.
func runExerciser(o *options, mode string) (r conformance.Result) {
	r.Name = mode
	if o.ops == 0 {
		r.Status, r.Message = conformance.Skip, "-ops 0"
		return r
	}
	if o.maxSize < exerciser.DirectAlign && o.features.ODirect {
		r.Status = conformance.Skip
		r.Message = fmt.Sprintf("-maxsize %d is below the O_DIRECT alignment %d: raise it, or withdraw odirect in -features", o.maxSize, exerciser.DirectAlign)
		return r
	}
	start := time.Now()
	defer func() { r.Duration = time.Since(start) }()

	sub, err := os.MkdirTemp(o.dir, "fusekit-conform-exerciser-*")
	if err != nil {
		r.Status, r.Message = conformance.Fail, fmt.Sprintf("making a subdirectory of %s: %v", o.dir, err)
		return r
	}
	type outcome struct {
		rep *exerciser.Report
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		cfg := exerciserConfig(o, mode)
		var rep *exerciser.Report
		var err error
		if mode == exerciserFile {
			rep, err = exerciser.Run(sub, cfg)
		} else {
			rep, err = exerciser.RunNamespace(sub, cfg)
		}
		done <- outcome{rep, err}
	}()
	var out outcome
	select {
	case out = <-done:
	case <-time.After(o.exTimeout):
		r.Status = conformance.Fail
		r.Message = fmt.Sprintf("seed %d: still running after %v (-exerciser-timeout); abandoned, leaving %s", o.seed, o.exTimeout, sub)
		return r
	}
	if err := os.RemoveAll(sub); err != nil && out.err == nil {
		out.err = fmt.Errorf("removing %s: %w", sub, err)
	}
	if out.err != nil {
		r.Status, r.Message = conformance.Fail, out.err.Error()
		return r
	}
	r.Status = conformance.Pass
	r.Message = fmt.Sprintf("seed %d: %d ops in %v", o.seed, out.rep.Ops, out.rep.Elapsed.Round(time.Millisecond))
	return r
}

// writeResult prints a result that did not pass: its status, name and the
// first line of its message, then any further lines indented.
func writeResult(w io.Writer, r conformance.Result) {
	first, rest, _ := strings.Cut(strings.TrimRight(r.Message, "\n"), "\n")
	if first == "" {
		fmt.Fprintf(w, "%s %s\n", r.Status, r.Name)
	} else {
		fmt.Fprintf(w, "%s %s: %s\n", r.Status, r.Name, first)
	}
	if rest != "" {
		for _, line := range strings.Split(rest, "\n") {
			fmt.Fprintf(w, "    %s\n", line)
		}
	}
}

// jsonReport is the -json output.
type jsonReport struct {
	Dir      string       `json:"dir"`
	Features string       `json:"features"`
	Seed     uint64       `json:"seed"`
	Ops      int          `json:"ops"`
	Results  []jsonResult `json:"results"`
	Passed   int          `json:"passed"`
	Failed   int          `json:"failed"`
	Skipped  int          `json:"skipped"`
}

type jsonResult struct {
	Name    string   `json:"name"`
	Status  string   `json:"status"`
	Message string   `json:"message,omitempty"`
	Seconds float64  `json:"seconds"`
	Logs    []string `json:"logs,omitempty"`
}

func writeJSON(w io.Writer, o *options, rs []conformance.Result, passed, failed, skipped int) error {
	rep := jsonReport{
		Dir:      o.dir,
		Features: o.features.String(),
		Seed:     o.seed,
		Ops:      o.ops,
		Results:  make([]jsonResult, len(rs)),
		Passed:   passed,
		Failed:   failed,
		Skipped:  skipped,
	}
	for i, r := range rs {
		rep.Results[i] = jsonResult{
			Name:    r.Name,
			Status:  r.Status.String(),
			Message: r.Message,
			Seconds: r.Duration.Seconds(),
			Logs:    r.Logs,
		}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}
