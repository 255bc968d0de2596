// Package tui is the training terminal: a full-screen tcell application in which a cashier
// takes payments on a simulated POS terminal, meets the failures a trainer injects at the
// acquirer, and learns the recovery from the operator guidance.
//
// The package follows one rule (the Elm architecture, as bubbletea does): a Model holds the whole state and changes only
// in Update(msg), which returns commands; the View draws a Model onto a tcell.Screen; the App
// runs commands in goroutines and feeds their results back as messages, so the UI never
// blocks on the network. The UI does no networking and no ISO 8583 work: it talks to the
// terminal through the Terminal interface (satisfied by *simulator.Terminal) and to the
// acquirer's back office through the Host interface (implemented in package trainer). Message
// traces and terminal events arrive as plain structs (TraceLine, TermEvent) through
// App.Trace and App.Event.
//
// Every user-visible string lives in the message catalog (catalog.go) in English and
// Simplified Chinese. Card numbers are masked before they reach the screen.
package tui
