// Package bounded reads untrusted input within stated limits before anything is built
// from it.
//
// Every file posdrill reads on a user's word (a flag, a scenario key) goes through Open or
// ReadFile: it must be a regular file (not a FIFO, a device such as /dev/zero, or a
// directory) no larger than the caller's bound, and the check happens before a single byte
// is read, so a hostile path gives a clear error at once instead of a hang or a gigabyte.
//
// Every YAML or JSON document goes through CheckYAML or CheckJSON before a parser sees it.
// They scan the bytes once, in constant memory, and refuse a document that is too large,
// nested too deep, has too many nodes or (YAML) uses more aliases than allowed. The
// parsers of goccy/go-yaml and encoding/json build a whole tree (or recurse) before a
// caller could check its depth; a nested document of tens of kilobytes used to take
// gigabytes there. The scan is conservative: YAML block nesting is estimated from
// indentation and compact indicators ("- - x"), so it may count a level a parser would not,
// never fewer than half of the real ones.
package bounded
