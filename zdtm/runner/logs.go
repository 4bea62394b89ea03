package runner

import (
	"bufio"
	"os"
	"regexp"
	"strings"
)

// errorLine matches the error lines of our criu's logs (zerolog levels
// ERR, FTL, PNC) and of CRIU's ("Error (file:line)").
var errorLine = regexp.MustCompile(`\b(ERR|FTL|PNC|ERROR|FATAL|PANIC|Error \(|panic:|fatal error:)`)

// errorLines returns up to max error lines of a log file. If the log
// has none, it returns its last lines, marked as such.
func errorLines(path string, max int) []string {
	f, err := os.Open(path)
	if err != nil {
		return []string{"(no log: " + err.Error() + ")"}
	}
	defer f.Close()
	var errs, tail []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		l := sc.Text()
		if errorLine.MatchString(l) && len(errs) < max {
			errs = append(errs, l)
		}
		tail = append(tail, l)
		if len(tail) > max {
			tail = tail[1:]
		}
	}
	if len(errs) > 0 {
		return errs
	}
	if len(tail) == 0 {
		return []string{"(empty log)"}
	}
	return append([]string{"(no error lines; the log ends with:)"}, tail...)
}

// hasErrorLines says whether the log has error lines.
func hasErrorLines(path string) bool {
	b, err := os.ReadFile(path)
	return err == nil && errorLine.Match(b)
}

// outcome reads a test's outfile: pass if it has a line "PASS" and no
// line starting with "FAIL".
func outcome(outfile string) (pass bool, lines []string, err error) {
	b, err := os.ReadFile(outfile)
	if err != nil {
		return false, nil, err
	}
	sawPass, sawFail := false, false
	for _, l := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		t := strings.TrimSpace(l)
		if t == "PASS" {
			sawPass = true
		}
		if strings.HasPrefix(t, "FAIL") {
			sawFail = true
		}
		lines = append(lines, l)
	}
	return sawPass && !sawFail, lines, nil
}
