package tui

import "github.com/gdamore/tcell/v2"

// KeyCode is a key the UI reacts to, independent of the terminal library so the Model can
// be driven in tests without a screen.
type KeyCode int

// Key codes.
const (
	KeyRune KeyCode = iota
	KeyEnter
	KeyEsc
	KeyBackspace
	KeyUp
	KeyDown
	KeyLeft
	KeyRight
	KeyTab
	KeyPgUp
	KeyPgDn
	KeyCtrlC
	KeyF1
	KeyF2
	KeyF3
	KeyF4
	KeyF5
	KeyOther
)

// Key is one key press.
type Key struct {
	Code KeyCode
	Rune rune // for KeyRune
}

// R is a printable key.
func R(r rune) Key { return Key{Code: KeyRune, Rune: r} }

// K is a special key.
func K(c KeyCode) Key { return Key{Code: c} }

// keyFromEvent converts a tcell key event.
func keyFromEvent(ev *tcell.EventKey) Key {
	switch ev.Key() {
	case tcell.KeyRune:
		return R(ev.Rune())
	case tcell.KeyEnter:
		return K(KeyEnter)
	case tcell.KeyEscape:
		return K(KeyEsc)
	case tcell.KeyBackspace, tcell.KeyBackspace2, tcell.KeyDelete:
		return K(KeyBackspace)
	case tcell.KeyUp:
		return K(KeyUp)
	case tcell.KeyDown:
		return K(KeyDown)
	case tcell.KeyLeft:
		return K(KeyLeft)
	case tcell.KeyRight:
		return K(KeyRight)
	case tcell.KeyTab:
		return K(KeyTab)
	case tcell.KeyPgUp:
		return K(KeyPgUp)
	case tcell.KeyPgDn:
		return K(KeyPgDn)
	case tcell.KeyCtrlC:
		return K(KeyCtrlC)
	case tcell.KeyF1:
		return K(KeyF1)
	case tcell.KeyF2:
		return K(KeyF2)
	case tcell.KeyF3:
		return K(KeyF3)
	case tcell.KeyF4:
		return K(KeyF4)
	case tcell.KeyF5:
		return K(KeyF5)
	}
	return K(KeyOther)
}
