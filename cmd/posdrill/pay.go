package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/posdrill/posdrill/iso"
	"github.com/posdrill/posdrill/iso/cards"
	"github.com/posdrill/posdrill/iso/clock"
	"github.com/posdrill/posdrill/simulator"
	"github.com/posdrill/posdrill/simulator/guidance"
)

// newPayCmd is `posdrill pay`: one card payment from the command line, through the
// terminal engine (sign-on, recovery and all).
func newPayCmd() *cobra.Command {
	var (
		host, card, amount, entry, pin, profile, journal, cardsFile string
		dialect, framing, lang                                      string
		traceFile, typ, ref, rrn                                    string
		asJSON                                                      bool
	)
	cmd := &cobra.Command{
		Use:   "pay --host ADDR [--type sale|refund|preauth|completion|void|balance|echo|sign-on|sign-off|settle] [--card NAME|PAN] [--amount 12.34] [--entry chip|tap|swipe|keyed|qr] [--pin 1234] [--json]",
		Short: "One transaction at a simulated terminal (sale by default); exit 0 only when it succeeded",
		Long: `pay presents one card to an ISO 8583 host the way a person does at the till (or does one
terminal operation) and prints the outcome: what happened, the guidance for the cashier and
the receipt. Every recovery rule applies: an unanswered payment is reversed before pay exits
(if the host answers the reversal; otherwise it stays in --journal and goes out first on the
next run against the same host).

--type: sale (default), refund, preauth, balance (--card; --amount except balance),
completion (--amount; --ref STAN [--rrn RRN] of the pre-authorization, default the last),
void (--ref STAN [--rrn RRN], default the last approved transaction), echo, sign-on,
sign-off, settle.

The default journal is kept per host and terminal id in the user cache directory, so that
STANs, the batch and a pending reversal stay with the host they belong to.

--trace writes a JSONL trace of the terminal's messages (connections "t1", "t2"... in the
order they were opened), its events and the outcome, card data masked.

Exit status: 0 approved (or partially approved), voided or settled, 1 any other outcome,
2 invalid usage.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			usage := func(format string, a ...any) error {
				return &exitError{code: 2, err: fmt.Errorf(format, a...)}
			}
			// Flag values first, so a typo is reported as such before "--card is required".
			if entry != "" && !slices.Contains(simulator.EntryWords(), strings.ToLower(entry)) {
				return unknownName("--entry", "entry mode", entry, simulator.EntryWords())
			}
			textLang := guidance.DetectLang(os.Getenv)
			if lang != "" {
				if lang != string(guidance.En) && lang != string(guidance.Zh) {
					return unknownName("--lang", "language", lang, []string{string(guidance.En), string(guidance.Zh)})
				}
				textLang = guidance.Lang(lang)
			}
			if dialect != "" {
				if _, err := iso.DialectByName(dialect); err != nil {
					return usageErrorf("--dialect: %w", err)
				}
			}
			if framing != "" {
				if _, err := iso.ParseFraming(framing); err != nil {
					return usageErrorf("--framing: %w", err)
				}
			}
			op, ok := payTypeOf(typ)
			if !ok {
				return unknownName("--type", "transaction type", typ, payTypeNames)
			}
			if ref != "" && (len(ref) != 6 || strings.Trim(ref, "0123456789") != "") {
				return usage("--ref %q must be the six-digit STAN of the original transaction", ref)
			}
			p := simulator.DefaultProfile()
			if slices.Contains(simulator.Presets(), profile) {
				p, _ = simulator.PresetProfile(profile)
			} else if profile != "" {
				var err error
				if p, err = loadProfileArg(cmd.InOrStdin(), "--profile", profile); err != nil {
					return err
				}
			}
			if host != "" {
				p.Host = host
			}
			if dialect != "" {
				p.Dialect = dialect
			}
			if framing != "" {
				p.Framing = framing
			}
			if err := checkHostPort("--host", p.Host); err != nil {
				return err
			}
			needCard := op.card
			needAmount := op.card && op.name != simulator.OpBalance || op.name == simulator.OpCompletion
			if needCard && card == "" {
				return usage("--card is required for %s (a card name such as visa-ok, or a PAN of the wallet)", typ)
			}
			if needAmount && amount == "" {
				return usage("--amount is required for %s (major units, e.g. 12.34)", typ)
			}
			var minor int64
			var err error
			if amount != "" {
				if minor, err = iso.ParseMoney(amount); err != nil {
					return usage("--amount: %v", err)
				}
			}
			wallet, err := loadCardsArg(cmd.InOrStdin(), "--cards", cardsFile)
			if err != nil {
				return err
			}
			if card != "" {
				if err := checkPayCard(wallet, card); err != nil {
					return err
				}
			}
			if err := p.Validate(); err != nil {
				return usage("%v", err)
			}
			if journal == "" {
				if journal, err = defaultJournal(p.Host, p.TID); err != nil {
					return usage("--journal: %v (give a file, or :memory:)", err)
				}
			}
			opts := simulator.Options{Journal: journal, Wallet: wallet, ReceiptLang: string(textLang)}
			var tt *simulator.TerminalTrace
			closeTrace := func() error { return nil }
			if traceFile != "" {
				if traceFile == "-" && asJSON {
					return usage("--trace - and --json both want standard output: give --trace a file")
				}
				tw, closeOut, err := openTrace(cmd.OutOrStdout(), traceFile, clock.Real{})
				if err != nil {
					return err
				}
				closeTrace = func() error {
					err := closeOut()
					if werr := tw.Err(); werr != nil {
						err = werr
					}
					return err
				}
				tt = simulator.NewTerminalTrace(tw)
				if opts, err = tt.Hook(p, opts); err != nil {
					_ = closeTrace()
					return usage("%v", err)
				}
			}
			term, err := simulator.New(p, opts)
			if err != nil {
				_ = closeTrace()
				return fmt.Errorf("start terminal: %w", err)
			}
			// What an earlier run left owed to this host (an unanswered reversal) goes out
			// first, whatever this run does: a real terminal sends it at power-on or on its
			// repeat timer, which a one-shot process does not have. If it fails it stays
			// queued, and the operation goes on.
			if len(term.SAF()) > 0 {
				_ = term.DrainSAF(cmd.Context())
			}
			out := op.do(cmd.Context(), term, simulator.Payment{Card: card, Amount: minor, Entry: entry, PIN: pin}, simulator.Ref{STAN: ref, RRN: rrn})
			if tt != nil {
				tt.Outcome(out)
			}
			pending := term.SAF()
			if err := term.Close(); err != nil {
				fmt.Fprintln(cmd.ErrOrStderr(), "posdrill: closing the journal:", err)
			}
			if err := closeTrace(); err != nil {
				fmt.Fprintln(cmd.ErrOrStderr(), "posdrill: --trace:", err)
			}
			w := cmd.OutOrStdout()
			if asJSON {
				if err := writePayJSON(w, out, pending); err != nil {
					return err
				}
			} else {
				writePayText(w, out, textLang)
			}
			warnPending(cmd.ErrOrStderr(), pending, journal)
			switch out.Kind {
			case simulator.KindApproved, simulator.KindPartiallyApproved, simulator.KindVoided, simulator.KindSettled:
				return nil
			}
			return &exitError{code: 1, err: fmt.Errorf("%s %s", op.name, strings.ReplaceAll(out.Kind, "_", " "))}
		},
	}
	f := cmd.Flags()
	f.StringVar(&host, "host", "", "host address HOST:PORT (default: the profile's, 127.0.0.1:8583)")
	f.StringVar(&typ, "type", "sale", "transaction type: "+strings.Join(payTypeNames, ", "))
	_ = cmd.RegisterFlagCompletionFunc("type", fixed(payTypeNames...))
	f.StringVar(&ref, "ref", "", "completion, void: the STAN of the original transaction (default: the last one)")
	f.StringVar(&rrn, "rrn", "", "completion, void: the RRN the host gave the original (optional)")
	f.StringVar(&card, "card", "", "card name in the wallet (visa-ok, low-funds, ...) or its PAN")
	f.StringVar(&amount, "amount", "", "amount in major units, e.g. 12.34")
	f.StringVar(&entry, "entry", "", "chip, tap, swipe, fallback, keyed or qr (default chip; qr for wallet codes)")
	f.StringVar(&pin, "pin", "", "PIN typed on the PIN pad (the test cards' PIN is 1234)")
	f.BoolVar(&asJSON, "json", false, "print the outcome as JSON (card numbers masked)")
	f.StringVar(&profile, "profile", "", "terminal profile YAML (keys tid, mid, host, dialect, framing, response_timeout, reversal_mti, reversal_repeats, entry, ...: simulator/README.md in github.com/posdrill/posdrill; - for standard input), or a preset: cup (UnionPay domestic POS)")
	f.StringVar(&journal, "journal", "", "terminal journal, a SQLite file or :memory: (default: posdrill/terminal-TID-HOST.db in the user cache directory, so that STANs, the batch and pending reversals carry over to the next run against the same host)")
	f.StringVar(&cardsFile, "cards", "", "wallet YAML (default: the built-in test cards)")
	f.StringVar(&dialect, "dialect", "", "ISO 8583 dialect: ascii, ascii-hex, bcd, cup or a moov-io JSON spec file (default: the profile's, ascii)")
	f.StringVar(&framing, "framing", "", "length header: "+strings.Join(iso.Framings(), ", ")+" (default: the profile's, len2)")
	f.StringVar(&lang, "lang", "", "language of the cashier guidance and the receipt (zh: the bilingual Chinese slip): en or zh (default: from LC_ALL / LC_MESSAGES / LANG)")
	f.StringVar(&traceFile, "trace", "", "write a JSONL trace of the terminal's messages, events and outcome to this file (- for stdout)")
	return cmd
}

// checkPayCard makes a card the wallet does not hold a usage error, with "did you mean" for a
// name; otherwise the terminal would refuse it as an outcome with cashier guidance, exit 1.
func checkPayCard(wallet *cards.Set, card string) error {
	if _, ok := wallet.ByName(card); ok {
		return nil
	}
	if _, ok := wallet.ByPAN(card); ok {
		return nil
	}
	if strings.Trim(card, "0123456789") == "" && len(card) >= 12 {
		return usageErrorf("--card: no card with PAN %s in the wallet (give --cards FILE with it, or a card name: %s)",
			iso.MaskText(card), strings.Join(wallet.Names(), ", "))
	}
	return unknownName("--card", "card", iso.MaskText(card), wallet.Names())
}

// payJSON is the --json output.
type payJSON struct {
	Type         string         `json:"type"`
	Outcome      string         `json:"outcome"`
	ResponseCode string         `json:"response_code"`
	Guidance     string         `json:"guidance"`
	STAN         string         `json:"stan"`
	RRN          string         `json:"rrn"`
	AuthCode     string         `json:"auth_code,omitempty"`
	Card         string         `json:"card"`
	Entry        string         `json:"entry"`
	Amount       string         `json:"amount"`
	Approved     string         `json:"approved"`
	Error        string         `json:"error,omitempty"`
	Pending      []pendingJSON  `json:"pending,omitempty"`
	Events       []payEventJSON `json:"events"`
	Receipt      *receiptJSON   `json:"receipt,omitempty"`
	Extra        map[string]any `json:"extra,omitempty"`
}

type pendingJSON struct {
	Kind         string `json:"kind"`
	MTI          string `json:"mti"`
	OriginalSTAN string `json:"original_stan"`
	Attempts     int    `json:"attempts"`
	LastError    string `json:"last_error,omitempty"`
}

type payEventJSON struct {
	Seq    int64     `json:"seq"`
	Time   time.Time `json:"time"`
	Kind   string    `json:"kind"`
	STAN   string    `json:"stan,omitempty"`
	MTI    string    `json:"mti,omitempty"`
	Code   string    `json:"code,omitempty"`
	Detail string    `json:"detail,omitempty"`
}

type receiptJSON struct {
	Merchant string `json:"merchant"`
	Customer string `json:"customer"`
	Printed  bool   `json:"printed"`
}

func writePayJSON(w io.Writer, out simulator.Outcome, pending []simulator.SAFEntry) error {
	j := payJSON{Type: out.Operation, Outcome: out.Kind, ResponseCode: out.ResponseCode, Guidance: out.Guidance, STAN: out.STAN, RRN: out.RRN,
		AuthCode: out.AuthCode, Card: out.MaskedPAN, Entry: out.Entry, Amount: iso.FormatMoney(out.Amount),
		Approved: iso.FormatMoney(out.Approved), Events: []payEventJSON{}}
	if out.Err != nil {
		j.Error = iso.MaskText(out.Err.Error())
	}
	for _, e := range out.Events {
		j.Events = append(j.Events, payEventJSON{e.Seq, e.Time, e.Kind, e.STAN, e.MTI, e.Code, iso.MaskText(e.Detail)})
	}
	for _, p := range pending {
		j.Pending = append(j.Pending, pendingJSON{p.Kind, p.MTI, p.OriginalSTAN, p.Attempts, iso.MaskText(p.LastError)})
	}
	if out.Balance != nil {
		j.Extra = map[string]any{"balance": iso.FormatMoney(*out.Balance)}
	}
	if out.Receipt != nil {
		j.Receipt = &receiptJSON{out.Receipt.Merchant, out.Receipt.Customer, out.Receipt.Printed}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(j)
}

func writePayText(w io.Writer, out simulator.Outcome, lang guidance.Lang) {
	head := strings.ToUpper(strings.ReplaceAll(out.Kind, "_", " "))
	if out.ResponseCode != "" {
		head += fmt.Sprintf("  (%s %s)", out.ResponseCode, iso.LookupCode(out.ResponseCode).Meaning)
	}
	fmt.Fprintln(w, head)
	g := guidance.Lookup(out.Guidance, lang)
	fmt.Fprintln(w, g.Title)
	if g.What != "" {
		fmt.Fprintln(w, g.What)
	}
	for i, s := range g.Steps {
		fmt.Fprintf(w, "  %d. %s\n", i+1, s)
	}
	var ids []string
	for _, kv := range [][2]string{{"STAN", out.STAN}, {"RRN", out.RRN}, {"AUTH", out.AuthCode}} {
		if kv[1] != "" {
			ids = append(ids, kv[0]+" "+kv[1])
		}
	}
	if len(ids) > 0 {
		fmt.Fprintln(w, strings.Join(ids, "  "))
	}
	if out.Err != nil && out.Kind != simulator.KindApproved {
		fmt.Fprintln(w, "detail:", iso.MaskText(out.Err.Error()))
	}
	if out.Receipt != nil {
		fmt.Fprintln(w)
		fmt.Fprint(w, out.Receipt.String())
	}
}

// payOp is one --type of pay.
type payOp struct {
	name string // simulator.Op*
	card bool   // presents a card
	do   func(ctx context.Context, t *simulator.Terminal, p simulator.Payment, ref simulator.Ref) simulator.Outcome
}

// payTypes are the --type words, with the spellings scenario steps use ({type} of a
// check-terminal --drive command) as aliases.
var payTypes = map[string]payOp{
	"sale": {simulator.OpSale, true, func(ctx context.Context, t *simulator.Terminal, p simulator.Payment, _ simulator.Ref) simulator.Outcome {
		return t.Sale(ctx, p)
	}},
	"refund": {simulator.OpRefund, true, func(ctx context.Context, t *simulator.Terminal, p simulator.Payment, _ simulator.Ref) simulator.Outcome {
		return t.Refund(ctx, p)
	}},
	"preauth": {simulator.OpPreAuth, true, func(ctx context.Context, t *simulator.Terminal, p simulator.Payment, _ simulator.Ref) simulator.Outcome {
		return t.PreAuth(ctx, p)
	}},
	"balance": {simulator.OpBalance, true, func(ctx context.Context, t *simulator.Terminal, p simulator.Payment, _ simulator.Ref) simulator.Outcome {
		return t.Balance(ctx, p)
	}},
	"completion": {simulator.OpCompletion, false, func(ctx context.Context, t *simulator.Terminal, p simulator.Payment, r simulator.Ref) simulator.Outcome {
		return t.Complete(ctx, r, p.Amount)
	}},
	"void": {simulator.OpVoid, false, func(ctx context.Context, t *simulator.Terminal, _ simulator.Payment, r simulator.Ref) simulator.Outcome {
		return t.Void(ctx, r)
	}},
	"echo": {simulator.OpEcho, false, func(ctx context.Context, t *simulator.Terminal, _ simulator.Payment, _ simulator.Ref) simulator.Outcome {
		return t.Echo(ctx)
	}},
	"sign-on": {simulator.OpSignOn, false, func(ctx context.Context, t *simulator.Terminal, _ simulator.Payment, _ simulator.Ref) simulator.Outcome {
		return t.SignOn(ctx)
	}},
	"sign-off": {simulator.OpSignOff, false, func(ctx context.Context, t *simulator.Terminal, _ simulator.Payment, _ simulator.Ref) simulator.Outcome {
		return t.SignOff(ctx)
	}},
	"settle": {simulator.OpSettle, false, func(ctx context.Context, t *simulator.Terminal, _ simulator.Payment, _ simulator.Ref) simulator.Outcome {
		return t.Settle(ctx)
	}},
}

// payTypeNames are the documented --type words, in the order of the help text.
var payTypeNames = []string{"sale", "refund", "preauth", "completion", "void", "balance", "echo", "sign-on", "sign-off", "settle"}

// payTypeAliases are other spellings of the --type words.
var payTypeAliases = map[string]string{"pre-auth": "preauth", "complete": "completion", "sign_on": "sign-on",
	"sign_off": "sign-off", "signon": "sign-on", "signoff": "sign-off", "settlement": "settle"}

func payTypeOf(word string) (payOp, bool) {
	word = strings.ToLower(word)
	if w, ok := payTypeAliases[word]; ok {
		word = w
	}
	op, ok := payTypes[word]
	return op, ok
}

// defaultJournal is the terminal's journal in the user cache directory, one per host and
// terminal id. A terminal that forgot its STAN between runs would repeat DE11 (and, within
// the same second, DE7): the host would take the new payment for a duplicate (94). And a
// journal shared between hosts would send one host's pending reversal to another, which
// answers 25 (unknown original) while the first still holds the money.
func defaultJournal(host, tid string) (string, error) {
	dir, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	dir = filepath.Join(dir, "posdrill")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	return filepath.Join(dir, "terminal-"+fileWord(tid)+"-"+fileWord(host)+".db"), nil
}

// fileWord keeps a name usable in a file name: "127.0.0.1:8583" → "127.0.0.1_8583".
func fileWord(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' {
			return r
		}
		return '_'
	}, s)
}

// warnPending tells the operator about reversals or advices still owed to the host.
func warnPending(w io.Writer, pending []simulator.SAFEntry, journal string) {
	if len(pending) == 0 {
		return
	}
	where := "kept in " + journal + ": run pay again with --journal " + journal + " to send it first"
	if journal == "" || journal == ":memory:" {
		where = "NOT kept (no --journal file): reconcile it with the host's journal"
	}
	for _, p := range pending {
		fmt.Fprintf(w, "posdrill: %s for %s/%s not acknowledged by the host; %s\n", p.Kind, p.OriginalMTI, p.OriginalSTAN, where)
	}
}
