// Package ansi is lab's one colour helper: the plan, progress lines,
// verify's report, lesson reports and errors all paint through a Style,
// which a command's view turns on or off once, when it starts.
package ansi

// Style colours text with ANSI escape codes when Color is set and leaves
// it plain otherwise; the zero Style is plain.
type Style struct{ Color bool }

func (s Style) paint(code, text string) string {
	if !s.Color {
		return text
	}
	return "\x1b[" + code + "m" + text + "\x1b[0m"
}

func (s Style) Green(t string) string  { return s.paint("32", t) }
func (s Style) Red(t string) string    { return s.paint("31", t) }
func (s Style) Yellow(t string) string { return s.paint("33", t) }
func (s Style) Bold(t string) string   { return s.paint("1", t) }
func (s Style) Dim(t string) string    { return s.paint("2", t) }

// Wanted reports whether output to a terminal gets colour (getenv is
// os.Getenv): not when the output is not a terminal, when NO_COLOR is
// set (no-color.org), or when TERM=dumb says the terminal cannot show it.
func Wanted(getenv func(string) string, terminal bool) bool {
	return terminal && getenv("NO_COLOR") == "" && getenv("TERM") != "dumb"
}
