package acquirer

import (
	"database/sql"
	"hash/maphash"
	"slices"
)

// txnIndex is the SQLite writer's in-memory index of committed transactions. It replaces
// SQLite indexes on (terminal, STAN, DE7), (terminal, STAN) and (terminal, batch): every
// request inserts a transaction, and with those indexes each insert dirtied one B-tree page
// per index and per terminal in the batch, so a commit wrote (and fsynced) several times the
// pages the rows themselves fill. Kept in memory, an insert appends to the table's last
// page only.
//
// Lookups hash their key and follow a chain of ids, newest first; each entry carries the
// transaction's MTI class so that chains are walked without reading rows, and the row found
// is read by id and compared in full (a hash collision only costs a read). Memory: about
// 40 bytes per transaction, plus 8 per transaction not yet settled.
//
// Owned by the writer goroutine. It holds committed transactions only: a batch's own
// inserts are searched in the batch and enter the index after the commit.
type txnIndex struct {
	seed maphash.Seed

	keyHead  map[uint64]int64 // hash(terminal, STAN, DE7) → newest entry
	keyPrev  map[int64]int64  // id → older entry with the same key hash (only if any)
	stanHead map[uint64]int64 // hash(terminal, STAN) → newest entry
	stanPrev map[int64]int64

	// open lists, per terminal, ids of transactions that may not be settled yet (a
	// superset: openTxns reads each and keeps those whose batch is still empty).
	open map[string][]int64
}

// An entry is id<<2 | mtiCode(mti).
func entry(id int64, mti string) int64 { return id<<2 | mtiCode(mti) }

func entryID(e int64) int64 { return e >> 2 }

// mtiCode gives each base MTI a transaction can have a code; 0 stands for any other
// (such entries are always read and compared).
func mtiCode(mti string) int64 {
	switch mti {
	case "0100":
		return 1
	case "0200":
		return 2
	case "0220":
		return 3
	}
	return 0
}

// mayBe tells whether an entry's MTI can be one of mtis.
func mayBe(e int64, mtis []string) bool {
	c := e & 3
	if c == 0 {
		return true
	}
	for _, m := range mtis {
		if mtiCode(m) == c {
			return true
		}
	}
	return false
}

func newTxnIndex() *txnIndex {
	return &txnIndex{seed: maphash.MakeSeed(), keyHead: map[uint64]int64{}, keyPrev: map[int64]int64{},
		stanHead: map[uint64]int64{}, stanPrev: map[int64]int64{}, open: map[string][]int64{}}
}

func (x *txnIndex) hash(parts ...string) uint64 {
	var h maphash.Hash
	h.SetSeed(x.seed)
	for _, p := range parts {
		h.WriteString(p)
		h.WriteByte(0)
	}
	return h.Sum64()
}

func (x *txnIndex) keyHash(terminal, stan, de7 string) uint64 { return x.hash(terminal, stan, de7) }
func (x *txnIndex) stanHash(terminal, stan string) uint64     { return x.hash(terminal, stan) }

// add records a committed transaction; ids must come in increasing order.
func (x *txnIndex) add(id int64, terminal, stan, de7, mti string, open bool) {
	e := entry(id, mti)
	k := x.keyHash(terminal, stan, de7)
	if old, ok := x.keyHead[k]; ok {
		x.keyPrev[id] = old
	}
	x.keyHead[k] = e
	s := x.stanHash(terminal, stan)
	if old, ok := x.stanHead[s]; ok {
		x.stanPrev[id] = old
	}
	x.stanHead[s] = e
	if open {
		x.open[terminal] = append(x.open[terminal], id)
	}
}

// walk calls fn for each entry of the chain starting at head[h], newest first, until fn
// returns true.
func walk(head map[uint64]int64, prev map[int64]int64, h uint64, fn func(e int64) (bool, error)) error {
	e, ok := head[h]
	for ok {
		done, err := fn(e)
		if err != nil || done {
			return err
		}
		e, ok = prev[entryID(e)]
	}
	return nil
}

// setOpen replaces a terminal's open list after its batch committed: ids seen open by
// openTxns (still a superset, since later updates in the batch can only close more).
func (x *txnIndex) setOpen(terminal string, ids []int64) {
	if len(ids) == 0 {
		delete(x.open, terminal)
		return
	}
	x.open[terminal] = slices.Clip(ids)
}

// reopen puts a committed transaction back on its terminal's open list (kept in id
// order) if it is not there.
func (x *txnIndex) reopen(terminal string, id int64) {
	l := x.open[terminal]
	if i, found := slices.BinarySearch(l, id); !found {
		x.open[terminal] = slices.Insert(l, i, id)
	}
}

// loadTxnIndex builds the index from the table.
func loadTxnIndex(db *sql.DB) (*txnIndex, error) {
	rows, err := db.Query(`SELECT id, terminal, stan, de7, mti, batch = '' FROM transactions ORDER BY id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	x := newTxnIndex()
	for rows.Next() {
		var id int64
		var terminal, stan, de7, mti string
		var open bool
		if err := rows.Scan(&id, &terminal, &stan, &de7, &mti, &open); err != nil {
			return nil, err
		}
		x.add(id, terminal, stan, de7, mti, open)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return x, nil
}
