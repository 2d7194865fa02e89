package server

import (
	"bytes"
	"encoding/json"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

// encoding/json matches field names without regard to case, takes the
// last of a repeated name, and reads null into anything as "leave it
// alone", so {"PLAINTEXT":…}, null or [] would reach a handler as an empty
// request. checkStrict walks the body against the target type first and
// refuses, naming what is wrong: a body that is not an object,
// a name that is not exactly a field's, a name given twice, a null, and a
// value of the wrong JSON type. What passes, encoding/json then reads into
// the same fields under any of its rules. The data plane's fast path
// (fastjson.go) only accepts bodies this check accepts too.

// fieldsCache holds fieldsOf's answers: reflect.Type → map[string]reflect.Type.
var fieldsCache sync.Map

// fieldsOf maps a struct type's JSON names to their field types.
func fieldsOf(t reflect.Type) map[string]reflect.Type {
	if m, ok := fieldsCache.Load(t); ok {
		return m.(map[string]reflect.Type)
	}
	m := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		m[name] = f.Type
	}
	fieldsCache.Store(t, m)
	return m
}

func strictErr(msg string) error {
	return apiErr(http.StatusBadRequest, CodeInvalidRequest, msg)
}

// checkStrict refuses body unless it is exactly one JSON object that v's
// type (a pointer to a struct) reads field by field. The walk reads the
// bytes in place, allocating only for names, so that a body with contexts
// (which the fast path leaves to encoding/json) does not pay for a token
// per value.
func checkStrict(body []byte, v any) error {
	if err := checkSyntax(body); err != nil {
		return err
	}
	w := &walker{b: body}
	w.ws()
	if k := w.kind(); k != "an object" {
		return strictErr("the body must be a JSON object, not " + k)
	}
	return w.object(reflect.TypeOf(v).Elem(), "")
}

// checkSyntax refuses what is not one well-formed JSON value, with
// encoding/json's words for what is wrong.
func checkSyntax(body []byte) error {
	if json.Valid(body) {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	var first json.RawMessage
	if err := dec.Decode(&first); err != nil {
		return badJSON(err)
	}
	return strictErr("the body holds more than one JSON value")
}

// walker reads a body that checkSyntax accepted, so it need not check
// the syntax again.
type walker struct {
	b []byte
	i int
}

func (w *walker) ws() {
	for w.i < len(w.b) && (w.b[w.i] == ' ' || w.b[w.i] == '\t' || w.b[w.i] == '\n' || w.b[w.i] == '\r') {
		w.i++
	}
}

// kind names the JSON value at w.i.
func (w *walker) kind() string {
	switch w.b[w.i] {
	case 'n':
		return "null"
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	}
	return "a number"
}

// skipString moves past the string at w.i and returns its quoted bytes.
func (w *walker) skipString() []byte {
	j := w.i + 1
	for w.b[j] != '"' {
		if w.b[j] == '\\' {
			j++
		}
		j++
	}
	raw := w.b[w.i : j+1]
	w.i = j + 1
	return raw
}

// name reads a member's name and the colon after it.
func (w *walker) name() string {
	w.ws()
	raw := w.skipString()
	var s string
	if bytes.IndexByte(raw, '\\') < 0 && utf8.Valid(raw) {
		s = string(raw[1 : len(raw)-1])
	} else {
		json.Unmarshal(raw, &s) // well-formed: cannot fail
	}
	w.ws()
	w.i++ // ':'
	w.ws()
	return s
}

// more moves past a ',' and reports whether another member or element
// follows, or past the closing '}' or ']'.
func (w *walker) more() bool {
	w.ws()
	c := w.b[w.i]
	w.i++
	return c == ','
}

// open moves past a '{' or '[' and reports whether the object or array
// has members.
func (w *walker) open() bool {
	w.i++
	w.ws()
	if c := w.b[w.i]; c == '}' || c == ']' {
		w.i++
		return false
	}
	return true
}

// object reads the object at w.i into the fields of t.
func (w *walker) object(t reflect.Type, path string) error {
	if !w.open() {
		return nil
	}
	fields := fieldsOf(t)
	var seen []string // no longer than the struct's fields
	for {
		name := w.name()
		ft, ok := fields[name]
		if !ok {
			return unknownField(name, path, fields)
		}
		if slices.Contains(seen, name) {
			return strictErr("field " + strconv.Quote(name) + in(path) + " appears twice")
		}
		seen = append(seen, name)
		if err := w.value(ft, join(path, name)); err != nil {
			return err
		}
		if !w.more() {
			return nil
		}
	}
}

// mapObject reads the object at w.i into a map, whose keys are the
// caller's own.
func (w *walker) mapObject(elem reflect.Type, path string) error {
	if !w.open() {
		return nil
	}
	seen := map[string]bool{}
	for {
		name := w.name()
		if seen[name] {
			return strictErr("key " + strconv.Quote(name) + in(path) + " appears twice")
		}
		seen[name] = true
		if err := w.value(elem, path+"."+name); err != nil {
			return err
		}
		if !w.more() {
			return nil
		}
	}
}

// value reads the value at w.i that a field of type t takes.
func (w *walker) value(t reflect.Type, path string) error {
	want, got := wantKind(t), w.kind()
	if got == "null" {
		return strictErr(path + " is null: give " + want + " or leave the field out")
	}
	if got != want && (want != "a base64 string" || got != "a string") {
		return strictErr(path + " must be " + want + ", not " + got)
	}
	switch {
	case t.Kind() == reflect.Struct:
		return w.object(t, path)
	case t.Kind() == reflect.Map:
		return w.mapObject(t.Elem(), path)
	case got == "an array":
		if !w.open() {
			return nil
		}
		for i := 0; ; i++ {
			w.ws()
			if err := w.value(t.Elem(), path+"["+strconv.Itoa(i)+"]"); err != nil {
				return err
			}
			if !w.more() {
				return nil
			}
		}
	case got == "a string":
		w.skipString()
	default: // a number or a boolean
		for w.i < len(w.b) && !strings.ContainsRune(", \t\n\r}]", rune(w.b[w.i])) {
			w.i++
		}
	}
	return nil
}

func unknownField(name, path string, fields map[string]reflect.Type) error {
	msg := "unknown field " + strconv.Quote(name) + in(path)
	for f := range fields {
		if strings.EqualFold(f, name) {
			return strictErr(msg + ": field names are case-sensitive; did you mean " + strconv.Quote(f) + "?")
		}
	}
	return strictErr(msg)
}

func in(path string) string {
	if path == "" {
		return ""
	}
	return " in " + path
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// wantKind names the JSON a Go type reads from, as walker.kind does but
// for the base64 of []byte.
func wantKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return "a base64 string"
		}
		return "an array"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	default:
		return "a number"
	}
}
