package bounded

// CheckJSON refuses a JSON document over the limits, scanning it once in constant memory.
// It checks only the limits: syntax is the parser's job, so malformed input may pass (and
// the parser then reports it) but never makes the scan costly.
func CheckJSON(data []byte, l Limits) error {
	l = l.norm()
	if err := sizeCheck(len(data), l); err != nil {
		return err
	}
	s := &scanner{data: data, lim: l, line: 1, col: 1}
	depth := 0
	inValue := false // inside a scalar (number, literal) already counted
	for s.i < len(data) {
		c := data[s.i]
		switch c {
		case '"':
			if err := s.node(); err != nil {
				return err
			}
			s.advance()
			for s.i < len(data) && data[s.i] != '"' {
				if data[s.i] == '\\' && s.i+1 < len(data) {
					s.advance()
				}
				s.advance()
			}
			if s.i < len(data) {
				s.advance()
			}
			inValue = false
			continue
		case '[', '{':
			depth++
			if err := s.depth(depth); err != nil {
				return err
			}
			if err := s.node(); err != nil {
				return err
			}
			inValue = false
		case ']', '}':
			depth--
			inValue = false
		case ',', ':', ' ', '\t', '\r', '\n':
			inValue = false
		default:
			if !inValue {
				if err := s.node(); err != nil {
					return err
				}
				inValue = true
			}
		}
		s.advance()
	}
	return nil
}
