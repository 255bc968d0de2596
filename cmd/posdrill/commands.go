package main

import "github.com/spf13/cobra"

// subcommands lists every subcommand; each lives in its own file.
func subcommands() []*cobra.Command {
	return []*cobra.Command{
		// one line per subcommand, e.g. newAcquirerCmd(),
		newAcquirerCmd(),
		newFaultCmd(),
		newDecodeCmd(),
		newEncodeCmd(),
		newRecordCmd(),
		newProxyCmd(),
		newReplayCmd(),
		newRunCmd(),
		newTraceCmd(),
		newScenarioCmd(),
		newPayCmd(),
		newCheckTerminalCmd(),
		newSoakCmd(),
		newTrainCmd(),
		newClassroomCmd(),
		newLoadCmd(),
		newCannedCmd(),
	}
}
