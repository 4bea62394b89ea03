package image

import (
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Warm marshals once, and throws away, an instance of each message
// type of msgs with every message field set (lists with one element),
// so that the coders protobuf builds for a type at its first use
// exist, for those types and the ones they hold, before the caller's
// hot path. Measured here, in a fresh process: the first Marshal of a
// core entry took 294 us, of a file entry 250 us, of an mm entry 109
// us; the next ones 42, 4 and 1 us.
func Warm(msgs ...proto.Message) {
	for _, m := range msgs {
		r := m.ProtoReflect().Type().New()
		setMessages(r, 0)
		proto.MarshalOptions{AllowPartial: true}.Marshal(r.Interface())
	}
}

// setMessages sets every message field of m, to a depth of warmDepth.
func setMessages(m protoreflect.Message, depth int) {
	if depth >= warmDepth {
		return
	}
	fs := m.Descriptor().Fields()
	for i := 0; i < fs.Len(); i++ {
		f := fs.Get(i)
		if f.Kind() != protoreflect.MessageKind || f.IsMap() {
			continue
		}
		if f.IsList() {
			l := m.Mutable(f).List()
			e := l.NewElement()
			setMessages(e.Message(), depth+1)
			l.Append(e)
			continue
		}
		v := m.NewField(f)
		setMessages(v.Message(), depth+1)
		m.Set(f, v)
	}
}

// warmDepth bounds setMessages on recursive message types.
const warmDepth = 6
