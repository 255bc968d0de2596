// Package classroom runs a class of trainees: one acquirer for the class, a class API on
// its admin server where each trainee's `posdrill train --class ADDR --name NAME` joins and
// gets its own terminal id (stable for the name, so a dropped trainee continues where they
// were), the trainer's console, and the results store.
//
// The trainer side (Class) can fault one trainee's next transaction or everyone's (fault
// rules matching the terminal id), start the same drill on every terminal, and answer a
// trainee's next request by hand (acquirer.ByHand). Finished drills arrive as reports and
// are committed to SQLite (Store) before the class acknowledges them: a trainee's screen
// shows a score only once it is on the trainer's disk. The trainee side (Link) keeps the
// connection, joins again after a drop, and plugs into trainer.Options.
//
// It sits above trainer in the import order (cmd → classroom → trainer → ...): nothing
// below imports it.
package classroom
