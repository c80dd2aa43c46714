package audit

import (
	"path"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/gotrail/gotrail/internal/event"
)

// Names resolves numeric ids to names. The interpreter prefers the names
// auditd wrote into an ENRICHED log; Names answers for RAW logs and for ids
// auditd did not name.
type Names interface {
	UserName(id uint32) (string, bool)
	GroupName(id uint32) (string, bool)
}

// Unset is the id the kernel writes for "no value": auid and ses of a
// process that never logged in (daemons, boot scripts).
const Unset = "4294967295"

// Interpreter turns an assembled Event into an attributed event.Event. It
// keeps scratch buffers, so use one per goroutine; Names may be shared.
type Interpreter struct {
	Names Names
	Host  string // host.name when the record has no node= prefix
	// Records renders every record, interpreted, into auditd.records.
	Records bool

	fields []Field
	out    []byte
	keys   keySet
	hex    []byte // decoded values being rendered
	title  decodedTitle
	// general: records split by splitFields and rendered by
	// appendAnyRecord only, without what gather decoded: the reference the
	// fast paths are tested against
	general bool
	// byType is the last shape each record type had (render_plain.go), by
	// a hash of the type; splitShape the shape the current record was
	// split by, nil if by splitFields
	byType     [64]*keyShape
	splitShape *keyShape
	// the keys of each record type's last record (render_plain.go)
	shapes []keyShape

	// the event InterpretTemp returns, and what it points to
	ev         event.Event
	parent     event.ProcessRef // the current event's process.parent
	tags       []string         // and its tags
	audit, eff event.Ident
	file       event.File
	paths      []event.Path
	args       []string
	chunks     []argChunk
	arena      []byte // decoded text of the current event
	scratch    []byte // the current event's id, message type and message
}

// NewInterpreter returns an interpreter that names ids with names (may be
// nil) and reports host as the host name.
func NewInterpreter(names Names, host string, records bool) *Interpreter {
	return &Interpreter{Names: names, Host: host, Records: records}
}

func isUIDField(k string) bool {
	switch k {
	case "auid", "uid", "euid", "suid", "fsuid", "ouid", "iuid", "obj_uid",
		"sauid", "oauid", "old-auid", "inode_uid":
		return true
	}
	return false
}

func isGIDField(k string) bool {
	switch k {
	case "gid", "egid", "sgid", "fsgid", "ogid", "igid", "obj_gid", "new_gid", "inode_gid":
		return true
	}
	return false
}

// facts is what the interpreter gathers from the records of one event.
type facts struct {
	arch               Arch
	archOK             bool
	syscall            string
	success, res       string
	exit               string
	a0, a1, a2         string
	pid, ppid          string
	auid, uid, euid    string
	gid                string
	nAuid, nUID, nEUID string // names auditd wrote (ENRICHED)
	ses, tty           string
	comm, exe, key     string
	cwd                string
	title              string
	op, acct           string
	opKey              string // CONFIG_CHANGE key
	configChange       bool
	changes            []configChange // every CONFIG_CHANGE record, in order
	changeWords        string         // what they did, for the message
	daemon             string
	replaced           bool // Event.Replaced
	args               []string
	argc               int
	chunks             []argChunk // parts of arguments split by the kernel, in the arena
	paths              []event.Path
	firstType          string
}

// Interpret builds the attributed event. It never fails: what is malformed in
// a record is kept as written. The event is the caller's to keep.
func (in *Interpreter) Interpret(ev *Event) *event.Event {
	return event.Clone(in.InterpretTemp(ev))
}

// splitKeys splits an audit key field into the interpreter's tags scratch.
func (in *Interpreter) splitKeys(key string) []string {
	if key == "" {
		return nil
	}
	in.tags = in.tags[:0]
	for k := range strings.SplitSeq(key, "\x01") {
		if k != "" {
			in.tags = append(in.tags, k)
		}
	}
	return in.tags
}

// InterpretTemp is Interpret without allocating the event: the result and
// everything it points to belong to the interpreter and are valid until the
// next call. The renderer of `gotrail events` uses it, as it writes each
// event out at once.
func (in *Interpreter) InterpretTemp(ev *Event) *event.Event {
	f := in.begin()
	e := &in.ev
	e.Time = event.Time{Time: time.Unix(ev.Time.Sec, int64(ev.Time.Milli)*int64(time.Millisecond)).UTC()}
	start := len(in.scratch)
	in.scratch = AppendID(in.scratch, ev.Time, ev.Serial)
	e.Event.ID = in.scratchView(start)
	e.Host.Name = ev.Node
	if e.Host.Name == "" {
		e.Host.Name = in.Host
	}
	if in.Records {
		in.out = append(in.out[:0], '[')
	}
	f.replaced = ev.Replaced
	for i := range ev.Records {
		r := &ev.Records[i]
		if i == 0 {
			f.firstType = r.Type
		}
		if !in.Records && !gathers(r.Type) {
			continue // nothing to take from it, and not printed
		}
		in.fields = in.split(r)
		in.gather(&f, r, in.fields)
		if in.Records {
			if i > 0 {
				in.out = append(in.out, ',')
			}
			in.out = in.appendRecord(in.out, r, in.fields)
		}
	}
	if in.Records {
		in.out = append(in.out, ']')
		// no copy: the caller renders the event before the next one
		e.Auditd.Records = in.out
	}
	switch {
	case ev.Evicted && ev.Truncated:
		e.Auditd.Incomplete = "evicted, truncated"
	case ev.Evicted:
		e.Auditd.Incomplete = "evicted"
	case ev.Truncated:
		e.Auditd.Incomplete = "truncated"
	}
	if ev.Collision {
		// another event had this node, time and serial: kept apart, and said
		e.Auditd.Incomplete = strings.TrimPrefix(e.Auditd.Incomplete+", collision", ", ")
	}
	e.Auditd.MessageType = in.messageType(ev)
	in.build(e, &f)
	// keep the grown slices for the next event
	in.paths, in.args, in.chunks = f.paths[:0], f.args[:0], f.chunks[:0]
	return e
}

// scratchView is the scratch buffer from start to its end as a string,
// without a copy: the buffer is only appended to until the next event, so
// the bytes stay as they are (a grown buffer leaves them in the old array).
func (in *Interpreter) scratchView(start int) string {
	if start == len(in.scratch) {
		return ""
	}
	return unsafe.String(&in.scratch[start], len(in.scratch)-start)
}

// messageType picks the record type that says what the event is: a
// configuration change or daemon message over the syscall that carried it,
// the syscall over its auxiliary records.
func (in *Interpreter) messageType(ev *Event) string {
	best, rank := "", 0
	for i := range ev.Records {
		t := ev.Records[i].Type
		r := 1
		switch {
		case t == "CONFIG_CHANGE" || strings.HasPrefix(t, "DAEMON_"):
			r = 3
		case t == "SYSCALL":
			r = 2
		}
		if r > rank {
			best, rank = t, r
		}
	}
	if l, ok := lowerType(best); ok {
		return l
	}
	return in.lower(best)
}

// lowerType is the message type of the record types most events have, by
// a switch rather than a copy in lower case.
func lowerType(t string) (string, bool) {
	switch t {
	case "SYSCALL":
		return "syscall", true
	case "USER_START":
		return "user_start", true
	case "USER_END":
		return "user_end", true
	case "CRED_ACQ":
		return "cred_acq", true
	case "CRED_DISP":
		return "cred_disp", true
	case "CRED_REFR":
		return "cred_refr", true
	case "USER_ACCT":
		return "user_acct", true
	case "USER_AUTH":
		return "user_auth", true
	case "USER_LOGIN":
		return "user_login", true
	case "USER_CMD":
		return "user_cmd", true
	case "LOGIN":
		return "login", true
	case "CONFIG_CHANGE":
		return "config_change", true
	case "SERVICE_START":
		return "service_start", true
	case "SERVICE_STOP":
		return "service_stop", true
	}
	return "", false
}

// lower is strings.ToLower(s) in the scratch buffer; record types are
// ASCII, anything else goes to strings.ToLower.
func (in *Interpreter) lower(s string) string {
	start := len(in.scratch)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf {
			in.scratch = in.scratch[:start]
			return strings.ToLower(s)
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		in.scratch = append(in.scratch, c)
	}
	return in.scratchView(start)
}

// gathers reports whether gather takes anything from a record of type t.
func gathers(t string) bool {
	switch t {
	case "SYSCALL", "EXECVE", "CWD", "PATH", "PROCTITLE", "CONFIG_CHANGE":
		return true
	}
	return standalone(t)
}

// gather takes what one record says into f: a function per record type,
// as go-libaudit's aucoalesce has.
func (in *Interpreter) gather(f *facts, r *Record, fields []Field) {
	switch r.Type {
	case "SYSCALL":
		in.gatherSyscall(f, r, fields)
	case "EXECVE":
		in.gatherExecve(f, r, fields)
	case "CWD":
		in.gatherCwd(f, r, fields)
	case "PATH":
		in.gatherPath(f, r, fields)
	case "PROCTITLE":
		in.gatherProctitle(f, r, fields)
	case "CONFIG_CHANGE":
		in.gatherConfigChange(f, r, fields)
	default:
		if standalone(r.Type) {
			in.gatherUserMessage(f, r, fields)
		}
	}
}

// takeName keeps a user name auditd wrote in the ENRICHED part.
func (f *facts) takeName(fl Field) {
	switch fl.Key {
	case "AUID":
		f.nAuid = fl.Value
	case "UID":
		f.nUID = fl.Value
	case "EUID":
		f.nEUID = fl.Value
	}
}

// gatherWants are the fields the gather of a record type takes (the keys
// its switch reads), for a type where most fields are of no use to it: a
// reader that renders no records splits only those (Interpreter.split).
// A PATH record's item, devices and capabilities are most of it; of a
// SYSCALL's, a few are left alone, and leaving those out cost more in
// missed branches than it saved. FuzzInterpretDiff holds the events made
// so to those made of every field.
func gatherWants(typ string) *keyFilter {
	if typ == "PATH" {
		return pathWants
	}
	return nil
}

var pathWants = newKeyFilter("name", "nametype", "inode", "mode", "ouid", "ogid") // auditd's names of the owner are of no use to it

// gatherSyscall takes who ran what, and how the syscall ended.
func (in *Interpreter) gatherSyscall(f *facts, r *Record, fields []Field) {
	for _, fl := range fields {
		if fl.Enriched {
			f.takeName(fl)
			continue
		}
		switch fl.Key {
		case "arch":
			f.arch, f.archOK = ParseArch(fl.Value)
		case "syscall":
			f.syscall = fl.Value
		case "success":
			f.success = fl.Value
		case "exit":
			f.exit = fl.Value
		case "a0":
			f.a0 = fl.Value
		case "a1":
			f.a1 = fl.Value
		case "a2":
			f.a2 = fl.Value
		case "ppid":
			f.ppid = fl.Value
		case "pid":
			f.pid = fl.Value
		case "auid":
			f.auid = fl.Value
		case "uid":
			f.uid = fl.Value
		case "gid":
			f.gid = fl.Value
		case "euid":
			f.euid = fl.Value
		case "ses":
			f.ses = fl.Value
		case "tty":
			f.tty = fl.Value
		case "comm":
			f.comm, _ = in.text(r.Type, fl)
		case "exe":
			f.exe, _ = in.text(r.Type, fl)
		case "key":
			f.key, _ = in.text(r.Type, fl)
		}
	}
}

// gatherExecve takes the arguments, parts of split ones (aN[i]) into the
// arena, within argc.
func (in *Interpreter) gatherExecve(f *facts, r *Record, fields []Field) {
	for _, fl := range fields {
		if fl.Enriched {
			continue
		}
		if fl.Key == "argc" {
			if n, err := strconv.Atoi(fl.Value); err == nil && n >= 0 && n < 1<<20 {
				f.argc = n
			}
			continue
		}
		if !isArgKey(fl.Key) {
			continue
		}
		before := len(in.arena)
		v, _ := in.text(r.Type, fl)
		num, chunked := argIndex(fl.Key)
		// argc bounds the slice, so a forged a99999999= cannot make
		// the interpreter allocate for it
		if num < 0 || (f.argc > 0 && num >= f.argc) || (f.argc == 0 && num >= maxArgsWithoutArgc) {
			continue
		}
		for len(f.args) <= num {
			f.args = append(f.args, "")
		}
		if !chunked {
			f.args[num] = v
			continue
		}
		// parts arrive in order: the kernel writes a1[0], a1[1], …
		if len(in.arena) == before { // not decoded into the arena: copy it there
			in.arena = append(in.arena, v...)
		}
		f.chunks = append(f.chunks, argChunk{num: num, start: before, end: len(in.arena)})
	}
}

// gatherCwd takes the working directory.
func (in *Interpreter) gatherCwd(f *facts, r *Record, fields []Field) {
	for _, fl := range fields {
		if fl.Key == "cwd" && !fl.Enriched {
			f.cwd, _ = in.text(r.Type, fl)
		}
	}
}

// gatherPath takes one file the syscall named; under a CONFIG_CHANGE, the
// directory of the rule that changed.
func (in *Interpreter) gatherPath(f *facts, r *Record, fields []Field) {
	var p event.Path
	for _, fl := range fields {
		if fl.Enriched {
			continue // the owner's names are in auditd.records
		}
		switch fl.Key {
		case "name":
			p.Name, _ = in.text(r.Type, fl)
		case "nametype":
			p.Nametype = fl.Value
		case "inode":
			p.Inode = fl.Value
		case "mode":
			if m, ok := FileMode(fl.Value); ok {
				p.Mode = m
			} else {
				p.Mode = fl.Value
			}
		case "ouid":
			p.OUID = fl.Value
		case "ogid":
			p.OGID = fl.Value
		}
	}
	if f.configChange {
		// a rule's directory, as the kernel names the rule: not a
		// file the event is about
		if n := len(f.changes); n > 0 && f.changes[n-1].dir == "" {
			f.changes[n-1].dir = p.Name
		}
		return
	}
	f.paths = append(f.paths, p)
}

// decodedTitle is the current event's proctitle as gatherProctitle decoded
// it, for the record renderer to use again.
type decodedTitle struct {
	hex  string // the field's value, in the record
	text string // what it decodes to, NULs as spaces, in the arena
}

// of is the decoded title if hex is the very value it was decoded from.
func (t decodedTitle) of(hex string) (string, bool) {
	if len(hex) == 0 || len(hex) != len(t.hex) || unsafe.StringData(hex) != unsafe.StringData(t.hex) {
		return "", false
	}
	return t.text, true
}

// gatherProctitle takes the command line, NULs as spaces.
func (in *Interpreter) gatherProctitle(f *facts, r *Record, fields []Field) {
	for _, fl := range fields {
		if fl.Key == "proctitle" && !fl.Enriched {
			start := len(in.arena)
			v, _ := in.text(r.Type, fl)
			if len(in.arena) > start {
				// decoded into the arena: the NULs become spaces there
				f.title = bytesView(procTitleBytes(in.arena[start:]))
				in.title = decodedTitle{hex: fl.Value, text: f.title}
			} else {
				f.title = ProcTitle(v)
			}
		}
	}
}

// gatherConfigChange takes one rule or setting change.
func (in *Interpreter) gatherConfigChange(f *facts, r *Record, fields []Field) {
	f.configChange = true
	var c configChange
	for _, fl := range fields {
		if fl.Enriched {
			if fl.Key == "AUID" && f.nAuid == "" {
				f.nAuid = fl.Value
			}
			continue
		}
		c.take(fl.Key, fl.Value)
		switch fl.Key {
		case "op":
			f.op = fl.Value
		case "key":
			f.opKey, _ = in.text(r.Type, fl)
			c.key = f.opKey
		case "auid":
			if f.auid == "" {
				f.auid = fl.Value
			}
		case "ses":
			if f.ses == "" {
				f.ses = fl.Value
			}
		case "res":
			f.res = fl.Value
		}
	}
	f.changes = append(f.changes, c)
}

// gatherUserMessage takes a user-space or daemon message: one record with
// pid, uid, auid, ses and the fields of msg='…'.
func (in *Interpreter) gatherUserMessage(f *facts, r *Record, fields []Field) {
	if strings.HasPrefix(r.Type, "DAEMON_") {
		f.daemon = r.Type
	}
	for _, fl := range fields {
		if fl.Enriched {
			f.takeName(fl)
			continue
		}
		switch fl.Key {
		case "pid":
			f.pid = fl.Value
		case "uid":
			f.uid = fl.Value
		case "auid":
			f.auid = fl.Value
		case "ses":
			f.ses = fl.Value
		case "op":
			f.op = fl.Value
		case "acct":
			f.acct, _ = in.text(r.Type, fl)
		case "exe":
			f.exe, _ = in.text(r.Type, fl)
		case "terminal":
			if fl.Value != "?" {
				f.tty = fl.Value
			}
		case "res", "result":
			f.res = fl.Value
		}
	}
}

// maxArgsWithoutArgc bounds the argument index of an EXECVE record that
// lost its argc field.
const maxArgsWithoutArgc = 4096

// argChunk is one aN[i] part of argument num: arena[start:end].
type argChunk struct{ num, start, end int }

// joinChunks sets each split argument to its parts joined. The kernel writes
// an argument's parts one after the other, so they lie side by side in the
// arena and the whole argument is a view of it; parts out of order or
// interleaved with another argument's are joined by copying.
func (in *Interpreter) joinChunks(f *facts) {
	for i := 0; i < len(f.chunks); {
		num, start, end := f.chunks[i].num, f.chunks[i].start, f.chunks[i].end
		j := i + 1
		contiguous := true
		for ; j < len(f.chunks) && f.chunks[j].num == num; j++ {
			if f.chunks[j].start != end {
				contiguous = false
			}
			end = f.chunks[j].end
		}
		if contiguous && !in.argSeen(f, num, i) {
			f.args[num] = in.view(start, end)
		} else {
			// rare: parts apart from each other, joined by copying
			for _, c := range f.chunks[i:j] {
				f.args[num] += in.view(c.start, c.end)
			}
		}
		i = j
	}
}

// argSeen reports whether parts of argument num came before chunk i (split
// up by another argument's parts).
func (in *Interpreter) argSeen(f *facts, num, i int) bool {
	for _, c := range f.chunks[:i] {
		if c.num == num {
			return true
		}
	}
	return false
}

// view is the arena's bytes [start:end) as a string, without a copy.
func (in *Interpreter) view(start, end int) string {
	if start == end {
		return ""
	}
	return unsafe.String(&in.arena[start], end-start)
}

// text is a field's value as text, decoded into the arena when the kernel
// hex-encoded it: valid until the next event, like the rest of what
// InterpretTemp returns.
func (in *Interpreter) text(recordType string, fl Field) (string, bool) {
	if fl.Quoting != Bare || fl.Enriched || fl.Value == "(null)" || !IsEncoded(recordType, fl.Key) {
		return Value(recordType, fl)
	}
	start := len(in.arena)
	var ok bool
	if in.arena, ok = appendHex(in.arena, fl.Value); !ok {
		return fl.Value, false
	}
	return in.view(start, len(in.arena)), false
}

// argIndex splits a1 into (1, false) and a1[2] into (1, true); num is -1
// when the digits are too many for an int. The digits are read here:
// strconv.Atoi for each of a command's arguments was a tenth of gathering
// an EXECVE record.
func argIndex(k string) (num int, chunked bool) {
	i := 1
	for i < len(k) && k[i] >= '0' && k[i] <= '9' {
		num = num*10 + int(k[i]-'0')
		i++
	}
	if i == 1 {
		return -1, false
	}
	if i > 19 { // more than 18 digits may overflow: as strconv reads them
		n, err := strconv.Atoi(k[1:i])
		if err != nil {
			return -1, false
		}
		num = n
	}
	return num, i < len(k)
}

func (in *Interpreter) userName(id, enriched string) string { return in.name(id, enriched, false) }

func (in *Interpreter) groupName(id, enriched string) string { return in.name(id, enriched, true) }

// name is a user's (or a group's) name: the one auditd's ENRICHED part
// gave, else the one this host's Names gives for the id.
func (in *Interpreter) name(id, enriched string, group bool) string {
	if enriched != "" && enriched != "unset" && !strings.HasPrefix(enriched, "unknown(") {
		return enriched
	}
	if in.Names == nil || id == "" || id == Unset {
		return ""
	}
	n, err := strconv.ParseUint(id, 10, 32)
	if err != nil {
		return ""
	}
	lookup := in.Names.UserName
	if group {
		lookup = in.Names.GroupName
	}
	name, _ := lookup(uint32(n))
	return name
}

func (in *Interpreter) build(e *event.Event, f *facts) {
	in.buildWho(e, f)
	in.buildProcess(e, f)
	buildSyscall(e, f)
	script := scriptArg(f) // compared with the names as the caller gave them
	absolutePaths(e, f)
	e.Tags = in.splitKeys(f.key)
	buildOutcome(e, f)
	buildAction(e, f)
	if p, prev, ok := file(e.Event.Action, f.paths); ok {
		in.file = event.File{Path: p}
		e.File, e.Gotrail.PreviousPath = &in.file, prev
	}
	if script > 0 && e.Event.Action == "exec" && e.File != nil {
		// what ran is the script; the interpreter is how
		e.Gotrail.Interpreter = e.Process.Executable
		e.Process.Executable = e.File.Path
		e.Process.Args = e.Process.Args[script:]
	}
	e.Message = in.message(e, f)
}

// buildWho is the login user, the real and effective users with names, the
// session and the terminal.
func (in *Interpreter) buildWho(e *event.Event, f *facts) {
	if f.auid != "" && f.auid != Unset {
		in.audit = event.Ident{ID: f.auid, Name: in.userName(f.auid, f.nAuid)}
		e.User.Audit = &in.audit
	}
	e.User.ID = f.uid
	e.User.Name = in.userName(f.uid, f.nUID)
	if f.euid != "" {
		in.eff = event.Ident{ID: f.euid, Name: in.userName(f.euid, f.nEUID)}
		e.User.Effective = &in.eff
	}
	if f.ses != "" && f.ses != Unset {
		e.Auditd.Session = f.ses
	}
	if f.tty != "" && f.tty != "(none)" {
		e.Auditd.TTY = f.tty
	}
}

// buildProcess is what ran: pid and parent, executable, name, arguments,
// title and working directory.
func (in *Interpreter) buildProcess(e *event.Event, f *facts) {
	e.Process.PID = atoi(f.pid)
	if ppid := atoi(f.ppid); ppid != 0 {
		in.parent = event.ProcessRef{PID: ppid}
		e.Process.Parent = &in.parent
	}
	e.Process.Executable = f.exe
	e.Process.Name = f.comm
	if f.comm == "" && f.exe != "" {
		e.Process.Name = path.Base(f.exe)
	}
	in.joinChunks(f)
	if len(f.args) > 0 {
		e.Process.Args = f.args
	}
	e.Process.Title = f.title
	e.Process.WorkingDirectory = f.cwd
}

// atoi is strconv.Atoi with 0 for what is not a number, without making the
// error: a pid is missing from most records that are not a syscall's.
func atoi(s string) int {
	if s == "" {
		return 0
	}
	n, _ := strconv.Atoi(s)
	return n
}

// parseSyscall is strconv.ParseUint(s, 10, 32), the fast way first.
func parseSyscall(s string) (uint64, bool) {
	if n, ok := parseUint32(s, 10); ok {
		return n, true
	}
	n, err := strconv.ParseUint(s, 10, 32)
	return n, err == nil
}

// buildSyscall is how: the architecture, the syscall by name, its exit (an
// errno by name when it failed) and the files it named.
func buildSyscall(e *event.Event, f *facts) {
	if f.archOK {
		e.Auditd.Arch = f.arch.String()
		if n, ok := parseSyscall(f.syscall); ok {
			e.Auditd.Syscall, _ = SyscallName(f.arch, n)
		}
	} else if f.syscall != "" {
		e.Auditd.Syscall = f.syscall
	}
	if f.exit != "" {
		e.Auditd.Exit = f.exit
		if x, err := strconv.ParseInt(f.exit, 10, 64); err == nil && f.success == "no" {
			if name, ok := ErrnoName(x); ok {
				e.Auditd.Exit = name
			}
		}
	}
	e.Auditd.Paths = f.paths
}

// absolutePaths makes the files' relative names absolute where they are
// relative to the working directory.
func absolutePaths(e *event.Event, f *facts) {
	// a relative name is relative to the working directory only when the
	// call took none of its own (openat(dirfd, …) of a program that works
	// under an open directory, as gotrail's own writes under a root do):
	// then it stays relative, not made into a wrong absolute path
	if relativeToCwd(e.Auditd.Syscall, f.a0) {
		for i := range f.paths {
			p := &f.paths[i]
			if p.Name != "" && !strings.HasPrefix(p.Name, "/") && f.cwd != "" {
				p.Name = path.Join(f.cwd, p.Name)
			}
		}
	}
}

// buildOutcome is success or failure, from the syscall or the message.
func buildOutcome(e *event.Event, f *facts) {
	switch {
	case f.success == "yes":
		e.Event.Outcome = "success"
	case f.success == "no":
		e.Event.Outcome = "failure"
	case f.res == "success" || f.res == "1" || f.res == "yes":
		e.Event.Outcome = "success"
	case f.res != "":
		e.Event.Outcome = "failure"
	}
}

// buildAction names what was done: an audit configuration change summed
// up, auditd starting, stopping or restarting, what a syscall did to its
// file, or the message's operation.
func buildAction(e *event.Event, f *facts) {
	switch {
	case f.configChange:
		// the keys a CONFIG_CHANGE names are of the rules it changed, not
		// of a rule that fired: they go with the change
		e.Tags = nil
		e.Gotrail.AuditChange, e.Event.Action, f.changeWords = summarize(f.changes)
		if e.Gotrail.AuditChange.Refused == len(f.changes) {
			e.Event.Outcome = "failure"
		} else {
			e.Event.Outcome = "success"
		}
	case f.daemon == "DAEMON_START" && f.firstType == "DAEMON_END", f.daemon == "DAEMON_END" && f.replaced:
		e.Event.Action = "restart" // coalesced, or seen: auditd stopped and started at once
	case f.daemon != "":
		e.Event.Action = strings.ToLower(strings.TrimPrefix(f.daemon, "DAEMON_"))
	case e.Auditd.Syscall != "":
		e.Event.Action = action(e.Auditd.Syscall, f.a1, f.a2, f.paths)
	case f.op != "":
		e.Event.Action = f.op
	case f.firstType != "":
		e.Event.Action = strings.ToLower(f.firstType)
	}
}

// scriptArg finds a #! script run as a command: the kernel runs its
// interpreter (exe, the second PATH record) with the arguments
// [interpreter, its one optional argument, the script's name as the caller
// gave it, the caller's arguments…]. It returns the index of the script's
// name in the arguments, 0 when the exec was not of a script. A go binary
// is never an interpreter: it is the program itself, whatever its argv[0].
func scriptArg(f *facts) int {
	if len(f.paths) < 2 || len(f.args) < 2 || f.paths[0].Name == "" || f.args[0] != f.paths[1].Name {
		return 0
	}
	if b := path.Base(f.exe); b == "go" || b == "gofmt" {
		return 0
	}
	for i := 1; i <= 2 && i < len(f.args); i++ {
		if f.args[i] == f.paths[0].Name {
			return i
		}
	}
	return 0
}

// Open flags that make an open a write (asm-generic values, shared by
// x86_64, i386 and aarch64).
const (
	oWronly = 0x1
	oRdwr   = 0x2
	oCreat  = 0x40
	oTrunc  = 0x200
)

// action names what a syscall did to its file.
// atFDCWD is AT_FDCWD (-100) as the kernel logs a syscall argument.
const atFDCWD = "ffffff9c"

// relativeToCwd reports whether the relative names of syscall sc resolve
// from the working directory: a *at call whose first directory descriptor
// (a0) is not AT_FDCWD resolves them from that directory, which the records
// do not name.
func relativeToCwd(sc, a0 string) bool {
	switch sc {
	case "openat", "openat2", "mkdirat", "mknodat", "fchownat", "futimesat", "newfstatat", "unlinkat",
		"renameat", "renameat2", "linkat", "fchmodat", "fchmodat2", "faccessat", "faccessat2", "execveat", "utimensat", "name_to_handle_at":
		return a0 == atFDCWD || strings.HasPrefix(a0, "ffffffffffffff9c")
	}
	return true
}

func action(sc, a1, a2 string, paths []event.Path) string {
	created := false
	for _, p := range paths {
		if p.Nametype == "CREATE" {
			created = true
		}
	}
	switch sc {
	case "open", "openat", "openat2", "creat", "open_by_handle_at":
		flags := a1
		if sc == "openat" {
			flags = a2
		}
		if sc == "creat" {
			return "create"
		}
		n, err := strconv.ParseUint(flags, 16, 64)
		if sc == "openat2" || err != nil {
			if created {
				return "create"
			}
			return "open"
		}
		if created {
			return "create"
		}
		if n&(oWronly|oRdwr|oCreat|oTrunc) != 0 {
			return "write"
		}
		return "open"
	case "write", "writev", "pwrite64", "pwritev", "pwritev2", "truncate", "truncate64",
		"ftruncate", "ftruncate64", "fallocate", "copy_file_range", "sendfile", "splice":
		return "write"
	case "unlink", "unlinkat", "rmdir":
		return "delete"
	case "rename", "renameat", "renameat2":
		return "rename"
	case "mkdir", "mkdirat", "mknod", "mknodat":
		return "create"
	case "link", "linkat", "symlink", "symlinkat":
		return "link"
	case "chmod", "fchmod", "fchmodat", "fchmodat2":
		return "chmod"
	case "chown", "fchown", "lchown", "fchownat", "chown32", "fchown32", "lchown32":
		return "chown"
	case "setxattr", "lsetxattr", "fsetxattr", "removexattr", "lremovexattr", "fremovexattr",
		"setxattrat", "removexattrat":
		return "xattr"
	case "utime", "utimes", "utimensat", "futimesat":
		return "touch"
	case "execve", "execveat":
		return "exec"
	case "mount", "umount2", "move_mount", "fsmount":
		return "mount"
	}
	return sc
}

// file picks the file an action concerns from the PATH records: for a
// rename the created name and the first deleted one, for a create or delete
// the entry of that type, else the last item that is not a parent directory
// (exec: the first, the program itself).
func file(act string, paths []event.Path) (name, previous string, ok bool) {
	if len(paths) == 0 {
		return "", "", false
	}
	find := func(nt string) string {
		for _, p := range paths {
			if p.Nametype == nt && p.Name != "" {
				return p.Name
			}
		}
		return ""
	}
	switch act {
	case "rename":
		to, from := find("CREATE"), find("DELETE")
		if to != "" || from != "" {
			return to, from, true
		}
	case "create", "link":
		if p := find("CREATE"); p != "" {
			return p, "", true
		}
	case "delete":
		if p := find("DELETE"); p != "" {
			return p, "", true
		}
	case "exec":
		if paths[0].Name != "" {
			return paths[0].Name, "", true
		}
	}
	for i := len(paths) - 1; i >= 0; i-- {
		if paths[i].Nametype != "PARENT" && paths[i].Name != "" {
			return paths[i].Name, "", true
		}
	}
	if paths[0].Name != "" {
		return paths[0].Name, "", true
	}
	return "", "", false
}

var verbs = map[string]string{
	"write": "wrote", "create": "created", "delete": "deleted", "chmod": "changed the mode of",
	"chown": "changed the owner of", "xattr": "changed attributes of", "touch": "touched",
	"link": "linked", "open": "opened", "mount": "mounted",
}

// msgBuf is where a message is written: the interpreter's scratch buffer.
type msgBuf struct{ b []byte }

func (m *msgBuf) WriteString(s string) { m.b = append(m.b, s...) }

// writeWho writes who did it: the login user, and the effective user when
// another ("alice (as root)"), or "(no login)".
func writeWho(b *msgBuf, e *event.Event, f *facts) {
	login := e.LoginName()
	if login == "" {
		login = "unknown user"
	}
	b.WriteString(login)
	eff := e.EffectiveName()
	switch {
	case e.User.Audit == nil && (f.auid == Unset):
		b.WriteString(" (no login)")
	case eff != "" && eff != login:
		b.WriteString(" (as ")
		b.WriteString(eff)
		b.WriteString(")")
	}
}

// writeExec writes what ran: the command line, and for a script what ran it.
func writeExec(b *msgBuf, e *event.Event, failed bool) {
	if failed {
		b.WriteString(" run ")
	} else {
		b.WriteString(" ran ")
	}
	switch {
	case len(e.Process.Args) > 0:
		for i, a := range e.Process.Args {
			if i > 0 {
				b.WriteString(" ")
			}
			b.WriteString(a)
		}
	case e.Process.Title != "":
		b.WriteString(e.Process.Title)
	default:
		b.WriteString(e.Process.Executable)
	}
	if e.Gotrail.Interpreter != "" {
		b.WriteString(" (a script: ")
		b.WriteString(e.Process.Executable)
		b.WriteString(" run by ")
		b.WriteString(e.Gotrail.Interpreter)
		b.WriteString(")")
	}
}

// message is DESIGN.md's one-line summary: "alice (as root) wrote
// /etc/profile with vim", written in the scratch buffer.
func (in *Interpreter) message(e *event.Event, f *facts) string {
	start := len(in.scratch)
	b := msgBuf{b: in.scratch}
	writeWho(&b, e, f)
	failed := e.Event.Outcome == "failure"
	if failed {
		b.WriteString(" failed to")
	}
	prog := writeWhat(&b, e, f, failed)
	act := e.Event.Action
	if prog == "" && act != "exec" && e.Process.Executable != "" {
		prog = path.Base(e.Process.Executable)
	}
	if prog != "" {
		b.WriteString(" with ")
		b.WriteString(prog)
	}
	if failed && e.Auditd.Exit != "" && e.Auditd.Exit[0] == 'E' {
		b.WriteString(" (")
		b.WriteString(e.Auditd.Exit)
		b.WriteString(")")
	}
	in.scratch = b.b
	return in.scratchView(start)
}

// writeWhat writes what was done, and returns the program to name as
// having done it ("" for none yet).
func writeWhat(b *msgBuf, e *event.Event, f *facts, failed bool) string {
	act := e.Event.Action
	prog := e.Process.Name
	switch {
	case f.configChange:
		if failed {
			b.WriteString(" change the audit configuration: ")
		} else {
			b.WriteString(" ")
		}
		b.WriteString(f.changeWords)
		if e.Process.Title != "" {
			prog = e.Process.Title // the command line says what was meant
		}
	case act == "restart":
		b.WriteString(": auditd restarted (it stopped and started again at once)")
	case f.daemon != "":
		b.WriteString(": auditd ")
		b.WriteString(act)
	case act == "exec":
		writeExec(b, e, failed)
		prog = ""
	case act == "rename" && e.File != nil:
		if failed {
			b.WriteString(" rename ")
		} else {
			b.WriteString(" renamed ")
		}
		b.WriteString(e.Gotrail.PreviousPath)
		b.WriteString(" to ")
		b.WriteString(e.File.Path)
	case e.Auditd.Syscall == "" && f.op != "":
		b.WriteString(" ")
		b.WriteString(f.op)
		if f.acct != "" {
			b.WriteString(" for ")
			b.WriteString(f.acct)
		}
	default:
		v := verbs[act]
		if failed {
			v = act
		}
		if v == "" {
			v = act
		}
		b.WriteString(" ")
		b.WriteString(v)
		if e.File != nil && e.File.Path != "" {
			b.WriteString(" ")
			b.WriteString(e.File.Path)
		} else if strings.HasSuffix(v, " of") || v == "wrote" {
			b.WriteString(" a file it had open") // fchmod, fchown, write by descriptor: no name logged
		}
	}
	return prog
}
