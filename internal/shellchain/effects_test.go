package shellchain

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gotrail/gotrail/internal/hostfs"
)

// repeat is a login file of n lines made from line, with %d the line's
// number.
func repeat(line string, n int) string {
	var b strings.Builder
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, line+"\n", i)
	}
	return b.String()
}

// A login file that sets many variables, from a hostile image: the work
// must grow with its length, not with its length times the number of
// variables. The work is counted as calls of Track, which the simulation
// made for every variable at every statement; Simulate is stopped when
// they pass a bound linear in the length.
func TestManyVariables(t *testing.T) {
	for _, tt := range []struct {
		name, line string
		n          int
	}{
		{"assignments", "X%d=1", 40_000},
		{"exports", "export X%d=$HOME", 5_000},
		{"command substitutions", "X%d=$(id -u)", 5_000},
		{"if", "if [ -n \"$HOME\" ]; then X%d=1; fi", 5_000},
		{"case", "case $HOME in /home/*) X%d=1 ;; esac", 5_000},
		{"for", "for x in a; do X%d=$x; done", 5_000},
		{"functions", "f%d() { X=1; }", 5_000},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := writeRoot(t, map[string]string{
				"etc/passwd":               "alice:x:1000:1000::/home/alice:/bin/bash\n",
				"home/alice/.bash_profile": repeat(tt.line, tt.n) + "export GOPATH=/last\n",
			})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			calls, most := 0, 20*tt.n
			track := func(name string) bool {
				if calls++; calls == most {
					cancel()
				}
				return name == "GOPATH"
			}
			res, err := Simulate(ctx, Options{FS: h, User: alice, Login: true, Track: track})
			if err != nil {
				t.Fatalf("more than %d calls of Track for %d lines: %v", most, tt.n, err)
			}
			if st := res.StepsOf("GOPATH"); len(st) != 1 || st[0].Line != tt.n+1 {
				t.Errorf("GOPATH steps %+v; problems %v", st, res.Problems)
			}
		})
	}
}

func BenchmarkManyVariables(b *testing.B) {
	h := writeRoot(b, map[string]string{
		"etc/passwd":               "alice:x:1000:1000::/home/alice:/bin/bash\n",
		"home/alice/.bash_profile": repeat("X%d=1", 40_000),
	})
	track := func(n string) bool { return n == "PATH" || strings.HasPrefix(n, "GO") }
	for b.Loop() {
		if _, err := Simulate(context.Background(), Options{FS: h, User: alice, Login: true, Track: track}); err != nil {
			b.Fatal(err)
		}
	}
}

// Statements the simulation cannot see through are followed by comparing
// every variable; after many of them in a shell of many variables it stops,
// and says so, instead of taking hours.
func TestTooManyComparisons(t *testing.T) {
	h := writeRoot(t, map[string]string{
		"etc/passwd": "alice:x:1000:1000::/home/alice:/bin/bash\n",
		"home/alice/.bash_profile": "export GOPATH=/before\n" + repeat("X%d=1", 20_000) +
			"v=GOFLAGS\n" + repeat("read -r \"$v\" <<< %d", 1_000) + "export GOPATH=/after\n",
	})
	start := time.Now()
	res := simulate(t, h, "GOPATH")
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("took %v", d)
	}
	if v, _ := res.Value("GOPATH"); v != "/before" {
		t.Errorf("GOPATH = %q, want the value before the simulation stopped", v)
	}
	want := regexp.MustCompile(`^simulation stopped after comparing \d+ variable values \(too many variables\?\) at /home/alice/\.bash_profile:\d+; later values are unknown$`)
	found := false
	for _, p := range res.Problems {
		found = found || want.MatchString(p)
	}
	if !found {
		t.Errorf("problems: %v", res.Problems)
	}
}

// agreeScripts are login files for TestChecksAgree: the statements the
// analysis of what a statement can change has to get right.
var agreeScripts = []string{
	"GOPATH=/a\nGOFLAGS=-x\nA=1\nexport GOPATH\nunset GOFLAGS\nB=2 GOROOT=/r\n",
	"f() { local GOPATH=/local; GOFLAGS=-in; }\nGOPATH=/g\nf\necho $GOPATH\n",
	"f() { GOPATH=/sub; }\nx=$(f)\ny=$(f; echo)\n( f )\nf | :\n: | f\n",
	"declare -n r=GOPATH\nr=/via-ref\nexport GOPATH\n",
	"f() { local -n ref=$1; ref=/nr; }\nf GOPATH\nexport GOPATH\n",
	"v=GOPATH\neval \"$v=/eval\"\nexport GOPATH\neval \"g() { GOFLAGS=-g; }\"\ng\n",
	"eval \"$(dircolors -b)\"\nGOPATH=/after-empty-eval\n",
	"trap 'GOPATH=/trap' EXIT\nGOFLAGS=1\n",
	"trap 'GOPATH=/err' ERR\nfalse\nGOFLAGS=1\ntrue\n",
	"shopt -s expand_aliases\nalias s='GOPATH=/alias; :'\nalias r=read\nr GOFLAGS <<< hi\nv=GOROOT\nr \"$v\" <<< x\n",
	"alias ll='ls -l'\nalias e=eval\nalias rt=return\nshopt -s expand_aliases\nll\ne 'GOPATH=/ae'\n",
	"v=GOPATH\nread \"$v\" <<< /read\nprintf -v \"$v\" %s /printf\nmapfile GOPROXY <<< a\nunset \"$v\"\n",
	"v=GOPATH\ndeclare \"$v=/decl\"\nexport \"$v\"\nreadonly GOFLAGS=-r\nexport GO${v#GO}=/x\n",
	"(( GOPATH=5 ))\nlet GOFLAGS=3\necho $(( GOROOT = 7 ))\nfor ((GOBIN=0; GOBIN<3; GOBIN++)); do :; done\n",
	": ${GOPATH:=/default}\n: ${GOFLAGS=-d}\nx=${GOROOT:-/none}\nv=GOPROXY\n: ${!v:=z}\n",
	"for GOPATH in a b c; do :; done\nfor GOFLAGS in; do :; done\ncase x in y) ;; esac\ncase ${GOROOT:=/case} in *) ;; esac\n",
	"getopts ab GOPATH -a\nselect GOFLAGS in a b; do break; done <<< 1\n[[ abc =~ (b) ]] && GOPROXY=$BASH_REMATCH\n",
	"cmd=export\n$cmd GOPATH=/dyn\nc=read\n$c GOFLAGS <<< v\n\"$cmd\" GOROOT=/q\n",
	"command eval 'GOPATH=/ce'\nbuiltin eval 'GOFLAGS=/be'\ncommand export GOROOT=/cx\ncommand -v ls\n",
	"builtin source /etc/profile.d/go.sh\ncommand . /etc/profile.d/go.sh\nGOPATH=1\n",
	"f() (( GOPATH=3 ))\nf\ng() [[ ${GOFLAGS:=x} ]]\ng\nh() case ${GOROOT:=y} in z) ;; esac\nh\n",
	"exec {fd}>/dev/null\nGOPATH=/a ls\nGOFLAGS=-b :\nGOROOT=/c export X\n",
	"f() { GOPATH=/f; return; GOFLAGS=/no; }\nf\nwhile :; do GOROOT=/w; break; done\nuntil GOBIN=/u; do :; done\n",
	"if GOPATH=/cond; then GOFLAGS=/then; else GOROOT=/else; fi\nif false; then :; elif GOBIN=/elif; then :; fi\n",
	"GOPATH=/a && GOFLAGS=/b || GOROOT=/c\nfalse && GOBIN=/d\n! GOPROXY=/neg\n",
	"{ GOPATH=/blk; GOFLAGS=/blk2; }\n{ GOROOT=/r; } > /dev/null\ntime GOBIN=/t\n",
	"GOPATH=(x y)\nGOFLAGS[1]=z\nGOROOT+=/more\n",
	"f() { declare GOPATH=/dlocal; }\nf\nf() { declare -g GOFLAGS=/global; }\nf\n",
	"export G'O'FLAGS=2\nread -r 'GO''ROOT' <<< 3\nread \"GOBIN\" <<< 4\nread GO{PATH,X} <<< 5\n",
	"ls | while read -r l; do GOPATH=$l; done\nprintf 'a\\n' | { read GOFLAGS; }\n",
	"cat <<X\n${GOPATH:=/heredoc}\nX\n: <<< ${GOFLAGS:=/herestr}\n",
	"unset PATH\nPATH=/only\nunset HOME\nexport HOME=/h\n",
	"while read -r k v; do export \"$k=$v\"; done <<EOF\nGOPATH /loop\nGOFLAGS -l\nEOF\n",
	"for v in GOPATH GOFLAGS; do export $v=/for-$v; done\nfor v in GOPATH GOFLAGS; do unset $v; done\n",
	"f() { local GOPATH; unset GOPATH; }\nGOPATH=/g\nf\ng() { local GOFLAGS=/l; h; }\nh() { GOFLAGS=/h; }\ng\n",
	"f() { if [ $1 -gt 0 ]; then local GOPATH=/$1; f $(($1-1)); else return; fi; GOFLAGS=$GOPATH; }\nf 3\n",
	"f() { for i in 1 2; do local GOPATH=/$i; [ $i = 2 ] && return; done; }\nGOPATH=/g\nf\nGOFLAGS=$GOPATH\n",
	"f() { while :; do GOPATH=/w; break; done; }\nf\nfor i in 1 2; do for j in 1 2; do GOFLAGS=$i$j; continue 2; done; done\n",
	"case a in a) GOPATH=/1 ;& b) GOFLAGS=/2 ;;& a) GOROOT=/3 ;; esac\n",
	"f() { GOPATH=/x; } && f\ng() { local GOFLAGS=/l; } && g && GOROOT=$GOFLAGS\n",
	"v=PATH\nGOPATH=${!v}\nx=${!GO*}\nset\ndeclare -p\n",
	"IFS=: read -r a GOPATH <<< x:y\nreadarray -t GOFLAGS <<< a\nread <<< c\nGOROOT=$REPLY\n",
	"cd /etc\ncd -\nGOPATH=$OLDPWD\n",
	"set -e\nGOPATH=/e1\nfalse || true\nGOFLAGS=/e2\nfalse\nGOROOT=/never\n",
	"f() { exit 2; }\nGOPATH=/before\nf\nGOFLAGS=/never\n",
	". /nonexistent\nGOPATH=/after\nread GOFLAGS < /etc/passwd\n",
	"x() { for GOPATH in 1 2; do :; done; }\nx\n",
	"GO\\PATH=1\n(( GO\\PATH = 2 ))\n",
	"f() { GOPATH=/level$n; if [ $n -gt 0 ] && X=\"$(n=0; f)\"; then GOROOT=/t; fi; }\nn=1\nf\nGOFLAGS=1\n",
	"f() { local GOPATH=/l$n; if [ $n -gt 0 ]; then n=$((n-1)); f; fi; GOFLAGS=$GOPATH; }\nn=2\nf\n",
	"f() { GOPATH=/in-$1; }\nGOPATH=/main\nX=$(f a)$(f b)\nif [ \"$(f c)\" ]; then :; else GOFLAGS=$GOPATH; fi\n",
}

// The checks that compare only what a statement can change find the steps
// that comparing every variable at every marker finds.
func TestChecksAgree(t *testing.T) {
	for i, script := range agreeScripts {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			h := writeChain(t, "functions-loops")
			if err := os.WriteFile(filepath.Join(h, "home/alice/.bash_profile"), []byte(script), 0o644); err != nil {
				t.Fatal(err)
			}
			for _, track := range []func(string) bool{nil, func(n string) bool { return strings.HasPrefix(n, "GO") || n == "PATH" }} {
				for _, interactive := range []bool{false, true} {
					if why := checkAgree(t, Options{FS: hostfs.New(h), User: alice, Login: true, Interactive: interactive, Track: track, Resource: true}); why != "" {
						t.Fatalf("the two ways could not be compared: %s", why)
					}
				}
			}
		})
	}
}

// FuzzChecksAgree feeds arbitrary text as a login file to both ways of
// checking.
func FuzzChecksAgree(f *testing.F) {
	for _, s := range agreeScripts {
		f.Add(s)
	}
	root := writeRoot(f, map[string]string{"etc/passwd": "alice:x:1000:1000::/home/alice:/bin/bash\n", "home/alice/.bash_profile": ""})
	f.Fuzz(func(t *testing.T, script string) {
		if racy(script) {
			return // the order in which concurrent parts reach the simulation varies: nothing to compare
		}
		if err := os.WriteFile(root.Abs("/home/alice/.bash_profile"), []byte(script), 0o644); err != nil {
			t.Fatal(err)
		}
		// an input the two ways cannot be compared on (see checkAgree) is
		// no finding of the fuzzer's
		checkAgree(t, Options{FS: root, User: alice, Login: true, Interactive: true})
	})
}

// racy says whether a script may run pipelines or background jobs, whose
// parts reach the simulation in an order that varies from run to run.
func racy(script string) bool {
	s := strings.NewReplacer("&&", "", "||", "", "&>", "", ">&", "").Replace(script)
	return strings.ContainsAny(s, "&|")
}

var simTmp = regexp.MustCompile(regexp.QuoteMeta(os.TempDir()) + `/gotrail-sim-\d+`)

// checkAgree simulates o comparing every variable at every marker, and as
// usual, and compares the results. It returns why they could not be
// compared ("" when they were): a simulation that did not end in time, or
// one stopped by the cap on comparisons, which the two ways reach at
// different statements.
func checkAgree(t *testing.T, o Options) (notCompared string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	all := o
	all.compareAll = true
	want, err1 := Simulate(ctx, all)
	got, err2 := Simulate(ctx, o)
	if ctx.Err() != nil {
		return "did not end"
	}
	if (err1 == nil) != (err2 == nil) {
		t.Fatalf("errors: comparing all %v, as usual %v", err1, err2)
	}
	if err1 != nil {
		return ""
	}
	for _, r := range []*Result{want, got} {
		for i, p := range r.Problems {
			if strings.Contains(p, errCompared.Error()) {
				return "the two ways compare different numbers of values: they stop at different statements"
			}
			r.Problems[i] = simTmp.ReplaceAllString(p, "TMP")
		}
	}
	if !reflect.DeepEqual(want, got) {
		t.Errorf("comparing all:\n%s\nas usual:\n%s", describe(want), describe(got))
	}
	return ""
}

func describe(r *Result) string {
	var b strings.Builder
	for _, s := range r.Steps {
		fmt.Fprintf(&b, "step %s %s:%d %v -> %v %q\n", s.Var, s.File, s.Line, deref(s.Before), deref(s.After), s.DependsOn)
	}
	fmt.Fprintf(&b, "vars %v\nunresolved %v\nfiles %+v\nproblems %q\nregrows %+v\n", r.Vars, r.Unresolved, r.Files, r.Problems, r.Regrows)
	return b.String()
}

func deref(p *string) string {
	if p == nil {
		return "-"
	}
	return fmt.Sprintf("%q", *p)
}
