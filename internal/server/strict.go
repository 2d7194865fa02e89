package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync"
)

// encoding/json matches field names without regard to case, takes the
// last of a repeated name, and reads null into anything as "leave it
// alone", so {"PLAINTEXT":…}, null or [] would reach a handler as an empty
// request. checkStrict reads the body's tokens against the target type
// first and refuses, naming what is wrong: a body that is not an object,
// a name that is not exactly a field's, a name given twice, a null, and a
// value of the wrong JSON type. What passes, encoding/json then reads into
// the same fields under any of its rules. The data plane's fast path
// (fastjson.go) only accepts bodies this check accepts too.

// fieldsOf maps a struct type's JSON names to their field types.
var fieldsCache sync.Map // reflect.Type → map[string]reflect.Type

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
// type (a pointer to a struct) reads field by field.
func checkStrict(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return badJSON(err)
	}
	if tok != json.Delim('{') {
		return strictErr("the body must be a JSON object, not " + jsonKind(tok))
	}
	if err := checkObject(dec, reflect.TypeOf(v).Elem(), ""); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return strictErr("the body holds more than one JSON value")
	}
	return nil
}

// checkObject reads the members of an object whose '{' was read, up to
// and including its '}'.
func checkObject(dec *json.Decoder, t reflect.Type, path string) error {
	fields := fieldsOf(t)
	seen := map[string]bool{}
	for dec.More() {
		name, err := key(dec)
		if err != nil {
			return err
		}
		ft, ok := fields[name]
		if !ok {
			return unknownField(name, path, fields)
		}
		if seen[name] {
			return strictErr("field " + strconv.Quote(name) + in(path) + " appears twice")
		}
		seen[name] = true
		if err := checkValue(dec, ft, join(path, name)); err != nil {
			return err
		}
	}
	return closing(dec)
}

// checkValue reads one value that a field of type t takes.
func checkValue(dec *json.Decoder, t reflect.Type, path string) error {
	tok, err := next(dec)
	if err != nil {
		return err
	}
	want := wantKind(t)
	if tok == nil {
		return strictErr(path + " is null: give " + want + " or leave the field out")
	}
	if got := jsonKind(tok); got != want && (want != "a base64 string" || got != "a string") {
		return strictErr(path + " must be " + want + ", not " + got)
	}
	switch {
	case t.Kind() == reflect.Struct:
		return checkObject(dec, t, path)
	case t.Kind() == reflect.Map:
		return checkMap(dec, t.Elem(), path)
	case t.Kind() == reflect.Slice && t.Elem().Kind() != reflect.Uint8:
		for i := 0; dec.More(); i++ {
			if err := checkValue(dec, t.Elem(), path+"["+strconv.Itoa(i)+"]"); err != nil {
				return err
			}
		}
		return closing(dec)
	}
	return nil
}

// checkMap reads the members of a map, whose keys are the caller's own.
func checkMap(dec *json.Decoder, elem reflect.Type, path string) error {
	seen := map[string]bool{}
	for dec.More() {
		name, err := key(dec)
		if err != nil {
			return err
		}
		if seen[name] {
			return strictErr("key " + strconv.Quote(name) + in(path) + " appears twice")
		}
		seen[name] = true
		if err := checkValue(dec, elem, path+"."+name); err != nil {
			return err
		}
	}
	return closing(dec)
}

// next reads a token inside the body, where its end is a truncation.
func next(dec *json.Decoder) (json.Token, error) {
	tok, err := dec.Token()
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		return nil, badJSON(err)
	}
	return tok, nil
}

func key(dec *json.Decoder) (string, error) {
	tok, err := next(dec)
	if err != nil {
		return "", err
	}
	return tok.(string), nil // the decoder reads only strings as keys
}

// closing reads the '}' or ']' that dec.More reported.
func closing(dec *json.Decoder) error {
	_, err := next(dec)
	return err
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

// wantKind names the JSON a Go type reads from, as jsonKind does but for
// the base64 of []byte.
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

// jsonKind names the JSON value a token starts.
func jsonKind(tok json.Token) string {
	switch tok := tok.(type) {
	case nil:
		return "null"
	case json.Delim:
		if tok == '[' {
			return "an array"
		}
		return "an object"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	default:
		return "a number"
	}
}
