package verify

// For the tests of package verify_test, which also use verifytest and
// report (both import verify).
var (
	Show      = show
	Printable = printable
)
