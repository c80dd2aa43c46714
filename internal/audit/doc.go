// Package audit turns auditd's records into attributed events: the parse,
// assemble and interpret stages of the data flow (DESIGN.md).
//
//   - record.go parses one line (type=… msg=audit(SEC.MS:SERIAL): fields,
//     node= prefix, the ENRICHED part after 0x1d) without copying it;
//     decode.go decodes hex and quoted values.
//   - assemble.go groups records into events by node, time and serial,
//     each node a stream with its own clock, within bounds of count and
//     bytes; coalesce.go folds the audit configuration changes of one
//     process's run into one event.
//   - interpret.go reads an event's records into an event.Event: who (the
//     login user, real and effective ids, with names), what ran, which file,
//     the action and its outcome, and a one-line message; configchange.go
//     sums up rule and setting changes by their effect; render.go writes
//     the records as auditd.records.
//   - tables.go names syscalls, errnos and architectures as ausearch -i
//     does.
//
// What an event means for the Go environment is the classifier's
// (internal/classify), which reads only what the interpreter produced.
package audit
