package yamledit

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"strings"

	"go.yaml.in/yaml/v3"
)

// KustomizeImage is an image override for a kustomization's images list, as
// `kustomize edit set image` takes it. Exactly one of NewTag and Digest is
// set.
type KustomizeImage struct {
	// Name is the image name; it selects the entries whose name field is
	// exactly equal to it. No normalisation takes place: "nginx" and
	// "docker.io/library/nginx" are different entries, as in kustomize.
	Name string
	// NewTag is the tag to set. Setting it removes the entry's digest.
	NewTag string
	// Digest is the digest to set, such as "sha256:…". Setting it removes
	// the entry's newTag.
	Digest string
	// NewName, when set, is the name the image gets (the entry's newName,
	// as `kustomize edit set image name=newName:tag` sets it); when empty
	// an entry's newName is kept as it is.
	NewName string
}

// fields returns the key to set, its value and the key to remove.
func (img KustomizeImage) fields() (set, value, drop string) {
	if img.Digest != "" {
		return "digest", img.Digest, "newTag"
	}
	return "newTag", img.NewTag, "digest"
}

func (img KustomizeImage) validate() error {
	switch {
	case img.Name == "":
		return errors.New("invalid image: the name is empty")
	case img.NewTag == "" && img.Digest == "":
		return errors.New("invalid image: set either a tag or a digest")
	case img.NewTag != "" && img.Digest != "":
		return errors.New("invalid image: set either a tag or a digest, not both")
	}
	return nil
}

// SetKustomizeImage has the effect of `kustomize edit set image` on a
// kustomization file, changing only the bytes it has to.
//
// Every entry of the images list whose name equals img.Name gets img's tag or
// digest: setting newTag removes digest and setting digest removes newTag,
// as kustomize does; newName is set when img.NewName is given (replaced in
// place, or added after name) and kept otherwise. An existing value is replaced in
// its quoting style (see SetValue); a missing key is added on its own line
// after name or newName (or inside the entry's braces for a flow mapping),
// and a removed key loses exactly its line. Unlike kustomize, entries are not
// sorted and other keys are not rewritten.
//
// Without a matching entry, one is appended at the end of the images list in
// the list's indentation style; without an images key, an images section is
// appended at the end of the file, following its line endings and whether it
// ends with a line break. This is the one function in this package that
// inserts keys, because kustomize does.
//
// The file must hold a single document whose top level is a block mapping
// (or nothing at all).
func SetKustomizeImage(kustomization []byte, img KustomizeImage) ([]byte, error) {
	if err := img.validate(); err != nil {
		return nil, fmt.Errorf("set image %s: %w", img.Name, err)
	}
	out, err := setKustomizeImage(kustomization, img)
	if err != nil {
		return nil, fmt.Errorf("set image %s: %w", img.Name, err)
	}
	return out, nil
}

func setKustomizeImage(src []byte, img KustomizeImage) ([]byte, error) {
	d, err := parseDocument(src)
	if err != nil {
		return nil, err
	}
	if d.root != nil && (d.root.Kind != yaml.MappingNode || d.root.Style&yaml.FlowStyle != 0) {
		return nil, fmt.Errorf("%w: the kustomization's top level is not a block mapping", ErrUnsupported)
	}
	var imagesKey, images *yaml.Node
	if d.root != nil {
		imagesKey, images = mappingLookup(d.root, "images")
	}
	var out []byte
	switch {
	case images == nil:
		out, err = d.appendImagesSection(img)
	case isEmptyNull(images):
		out, err = d.fillImages(imagesKey, img)
	case images.Kind == yaml.AliasNode:
		err = fmt.Errorf("%w: images is an alias (*%s); edit the anchored list%s instead", ErrUnsupported, images.Value, d.anchorPath(images.Alias))
	case images.Kind != yaml.SequenceNode:
		err = fmt.Errorf("%w: images is not a list", ErrUnsupported)
	default:
		matches := imageMatches(images, img.Name)
		if len(matches) == 0 {
			out, err = d.appendImage(images, img)
			break
		}
		out = src
		for _, i := range matches {
			if out, err = updateImage(out, i, img); err != nil {
				break
			}
		}
	}
	if err == nil && img.NewName != "" {
		out, err = setImageNewName(out, img)
	}
	if err != nil {
		return nil, err
	}
	if bytes.Equal(out, src) {
		return src, nil
	}
	if err := verifyKustomize(d, out, img); err != nil {
		return nil, err
	}
	return out, nil
}

// imageEntry parses src and returns the i-th entry of its images list and
// whether it sits in flow context.
func imageEntry(src []byte, i int) (*document, *yaml.Node, bool, error) {
	d, err := parseDocument(src)
	if err != nil {
		return nil, nil, false, fmt.Errorf("%w: an intermediate edit does not parse: %v", ErrVerificationFailed, err)
	}
	if d.root == nil || d.root.Kind != yaml.MappingNode {
		return nil, nil, false, fmt.Errorf("%w: an intermediate edit lost the images list", ErrVerificationFailed)
	}
	_, images := mappingLookup(d.root, "images")
	if images == nil || images.Kind != yaml.SequenceNode || i >= len(images.Content) || images.Content[i].Kind != yaml.MappingNode {
		return nil, nil, false, fmt.Errorf("%w: an intermediate edit lost the images list", ErrVerificationFailed)
	}
	entry := images.Content[i]
	return d, entry, (d.root.Style|images.Style|entry.Style)&yaml.FlowStyle != 0, nil
}

// updateImage sets the tag or digest of the i-th entry of the images list.
func updateImage(src []byte, i int, img KustomizeImage) ([]byte, error) {
	set, value, drop := img.fields()
	d, entry, flow, err := imageEntry(src, i)
	if err != nil {
		return nil, err
	}
	setKey, setValue := mappingLookup(entry, set)
	dropKey, _ := mappingLookup(entry, drop)
	switch {
	case setValue != nil:
		t := target{node: setValue, key: setKey, flow: flow, path: fmt.Sprintf("images.%d.%s", i, set)}
		if err := d.checkScalar(t); err != nil {
			return nil, err
		}
		if setValue.Value != value {
			if src, err = d.setScalar(t, value); err != nil {
				return nil, err
			}
		}
		if dropKey == nil {
			return src, nil
		}
		if d, entry, flow, err = imageEntry(src, i); err != nil {
			return nil, err
		}
		return d.removeKey(entry, drop, flow)
	case dropKey != nil:
		return d.replaceKey(entry, drop, set, value, flow)
	default:
		return d.insertKey(entry, set, value, flow)
	}
}

// setImageNewName sets newName in every entry of the images list named
// img.Name (the list has one by now): the value replaced where the entry
// has the key, a line (or a flow pair) added after name where it does not.
func setImageNewName(src []byte, img KustomizeImage) ([]byte, error) {
	d, err := parseDocument(src)
	if err != nil {
		return nil, fmt.Errorf("%w: an intermediate edit does not parse: %v", ErrVerificationFailed, err)
	}
	_, images := mappingLookup(d.root, "images")
	if images == nil || images.Kind != yaml.SequenceNode {
		return nil, fmt.Errorf("%w: an intermediate edit lost the images list", ErrVerificationFailed)
	}
	for _, i := range imageMatches(images, img.Name) {
		d, entry, flow, err := imageEntry(src, i)
		if err != nil {
			return nil, err
		}
		key, value := mappingLookup(entry, "newName")
		if value == nil {
			if src, err = d.insertKey(entry, "newName", img.NewName, flow); err != nil {
				return nil, err
			}
			continue
		}
		t := target{node: value, key: key, flow: flow, path: fmt.Sprintf("images.%d.newName", i)}
		if err := d.checkScalar(t); err != nil {
			return nil, err
		}
		if value.Value != img.NewName {
			if src, err = d.setScalar(t, img.NewName); err != nil {
				return nil, err
			}
		}
	}
	return src, nil
}

// imageMatches returns the indexes of the entries of the images list whose
// name is exactly name.
func imageMatches(images *yaml.Node, name string) []int {
	var matches []int
	for i, entry := range images.Content {
		if entry.Kind == yaml.MappingNode && scalarValue(entry, "name") == name {
			matches = append(matches, i)
		}
	}
	return matches
}

// pairIndex returns the index in m.Content of the key node named key.
func pairIndex(m *yaml.Node, key string) int {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if k := m.Content[i]; k.Kind == yaml.ScalarNode && k.Value == key {
			return i
		}
	}
	return -1
}

// removeKey removes the entry key from mapping m: its whole line(s) in a
// block mapping, or the entry and one comma in a flow mapping.
func (d *document) removeKey(m *yaml.Node, key string, flow bool) ([]byte, error) {
	i := pairIndex(m, key)
	if i < 0 {
		return d.src, nil
	}
	keyStart, err := d.nodeOffset(m.Content[i])
	if err != nil {
		return nil, err
	}
	valueEnd, err := d.pairEnd(m.Content[i], m.Content[i+1], flow)
	if err != nil {
		return nil, err
	}
	hasNext := i+2 < len(m.Content)
	var next int
	if hasNext {
		if next, err = d.nodeOffset(m.Content[i+2]); err != nil {
			return nil, err
		}
	}
	if flow {
		switch {
		case hasNext:
			return splice(d.src, keyStart, next, ""), nil
		case i > 0:
			prevEnd, err := d.pairEnd(m.Content[i-2], m.Content[i-1], flow)
			if err != nil {
				return nil, err
			}
			return splice(d.src, prevEnd, valueEnd, ""), nil
		}
		return splice(d.src, keyStart, valueEnd, ""), nil
	}
	ls := d.lineStart(keyStart)
	if len(bytes.Trim(d.src[ls:keyStart], " ")) == 0 {
		le, n := d.lineEnd(valueEnd)
		if n > 0 || ls == 0 {
			return splice(d.src, ls, le+n, ""), nil
		}
		// The last line has no line break: remove the break before it so
		// the file still ends without one.
		return splice(d.src, d.prevBreakStart(ls), le, ""), nil
	}
	if hasNext {
		// The key shares its line with "- ": pull the next key up.
		return splice(d.src, keyStart, next, ""), nil
	}
	return nil, fmt.Errorf("%w: cannot remove %s from the entry at line %d; edit it by hand", ErrUnsupported, key, m.Line)
}

// prevBreakStart returns the offset of the line break that ends right before
// offset ls, the start of a line.
func (d *document) prevBreakStart(ls int) int {
	for n := 3; n >= 1; n-- {
		if ls-n >= 0 && breakLen(d.src, ls-n) == n {
			return ls - n
		}
	}
	return ls
}

// replaceKey replaces the entry oldKey of mapping m, key and value, with
// "newKey: value" in the same place.
func (d *document) replaceKey(m *yaml.Node, oldKey, newKey, value string, flow bool) ([]byte, error) {
	i := pairIndex(m, oldKey)
	keyStart, err := d.nodeOffset(m.Content[i])
	if err != nil {
		return nil, err
	}
	valueEnd, err := d.pairEnd(m.Content[i], m.Content[i+1], flow)
	if err != nil {
		return nil, err
	}
	text, err := encodeNew(value, flow)
	if err != nil {
		return nil, err
	}
	return splice(d.src, keyStart, valueEnd, newKey+": "+text), nil
}

// insertKey adds "key: value" to the image entry m after its name or newName,
// whichever comes last: on a line of its own in a block mapping, after a
// comma in a flow mapping.
func (d *document) insertKey(m *yaml.Node, key, value string, flow bool) ([]byte, error) {
	after := pairIndex(m, "name")
	if i := pairIndex(m, "newName"); i > after {
		after = i
	}
	afterKey := m.Content[after]
	valueEnd, err := d.pairEnd(afterKey, m.Content[after+1], flow)
	if err != nil {
		return nil, err
	}
	text, err := encodeNew(value, flow)
	if err != nil {
		return nil, err
	}
	if flow {
		off, err := d.nodeOffset(m)
		if err != nil {
			return nil, err
		}
		if start := skipProperties(d.src, off, true); start >= len(d.src) || d.src[start] != '{' {
			// In "[name: a]" a comma would start a new list entry.
			return nil, fmt.Errorf("%w: the images entry at line %d is a mapping without braces; write it as {name: ...}", ErrUnsupported, m.Line)
		}
		return splice(d.src, valueEnd, valueEnd, flowComma(isEmptyNull(m.Content[after+1]))+key+": "+text), nil
	}
	line := strings.Repeat(" ", afterKey.Column-1) + key + ": " + text
	le, n := d.lineEnd(valueEnd)
	if n == 0 {
		return splice(d.src, le, le, d.eol()+line), nil
	}
	return splice(d.src, le+n, le+n, line+string(d.src[le:le+n])), nil
}

// flowComma returns the separator to insert right after a flow collection
// entry: ", ", or " , " after an empty value ("key:"), whose colon yaml.v3
// would otherwise read as part of a plain scalar "key:".
func flowComma(afterEmptyValue bool) string {
	if afterEmptyValue {
		return " , "
	}
	return ", "
}

// endsWithEmptyValue reports whether the text of n ends with an empty
// mapping value, as the brace-less pair in [a: ] does.
func endsWithEmptyValue(n *yaml.Node) bool {
	for n.Kind == yaml.MappingNode && n.Style&yaml.FlowStyle != 0 && len(n.Content) >= 2 {
		n = n.Content[len(n.Content)-1]
		if isEmptyNull(n) {
			return true
		}
	}
	return false
}

// itemLayout returns the columns (0-based, in bytes) of the dash and of the
// content of block sequence item n, which must start on the dash's line.
func (d *document) itemLayout(n *yaml.Node) (dash, content int, ok bool) {
	off, err := d.nodeOffset(n)
	if err != nil {
		return 0, 0, false
	}
	prefix := d.src[d.lineStart(off):off]
	trimmed := bytes.TrimLeft(prefix, " ")
	if len(trimmed) < 2 || trimmed[0] != '-' || len(bytes.Trim(trimmed[1:], " ")) != 0 {
		return 0, 0, false
	}
	return len(prefix) - len(trimmed), len(prefix), true
}

// imageText renders a new images entry. In block style it is two lines,
// the second without a line break, starting at the given columns.
func imageText(img KustomizeImage, flow bool, dash, content int, eol string) (string, error) {
	set, value, _ := img.fields()
	name, err := encodeNew(img.Name, true)
	if err != nil {
		return "", err
	}
	text, err := encodeNew(value, true)
	if err != nil {
		return "", err
	}
	if flow {
		return "{name: " + name + ", " + set + ": " + text + "}", nil
	}
	if name, err = encodeNew(img.Name, false); err != nil {
		return "", err
	}
	if text, err = encodeNew(value, false); err != nil {
		return "", err
	}
	return strings.Repeat(" ", dash) + "-" + strings.Repeat(" ", content-dash-1) + "name: " + name + eol +
		strings.Repeat(" ", content) + set + ": " + text, nil
}

// appendImage appends an entry for img at the end of the non-empty or flow
// images list.
func (d *document) appendImage(images *yaml.Node, img KustomizeImage) ([]byte, error) {
	if images.Style&yaml.FlowStyle != 0 {
		entry, err := imageText(img, true, 0, 0, "")
		if err != nil {
			return nil, err
		}
		if len(images.Content) == 0 {
			off, err := d.nodeOffset(images)
			if err != nil {
				return nil, err
			}
			start := skipProperties(d.src, off, false)
			if start >= len(d.src) || d.src[start] != '[' {
				return nil, fmt.Errorf("%w: cannot find the images list at line %d; edit it by hand", ErrUnsupported, images.Line)
			}
			return splice(d.src, start+1, start+1, entry), nil
		}
		// Append after the last entry, or after its trailing comma.
		last := images.Content[len(images.Content)-1]
		end, err := d.nodeEnd(last, true)
		if err != nil {
			return nil, err
		}
		if next := skipSeparation(d.src, end); next < len(d.src) && d.src[next] == ',' {
			return splice(d.src, next+1, next+1, " "+entry), nil
		}
		return splice(d.src, end, end, flowComma(endsWithEmptyValue(last))+entry), nil
	}
	last := images.Content[len(images.Content)-1]
	end, err := d.nodeEnd(last, false)
	if err != nil {
		return nil, err
	}
	dash, content, ok := d.itemLayout(last)
	if !ok {
		return nil, fmt.Errorf("%w: cannot tell the indentation of the images list at line %d; edit it by hand", ErrUnsupported, last.Line)
	}
	le, n := d.lineEnd(end)
	eol := d.eol()
	if n > 0 {
		eol = string(d.src[le : le+n])
	}
	var text string
	if last.Kind == yaml.MappingNode && last.Style&yaml.FlowStyle != 0 {
		entry, err := imageText(img, true, 0, 0, "")
		if err != nil {
			return nil, err
		}
		text = strings.Repeat(" ", dash) + "-" + strings.Repeat(" ", content-dash-1) + entry
	} else if text, err = imageText(img, false, dash, content, eol); err != nil {
		return nil, err
	}
	if n == 0 {
		return splice(d.src, le, le, eol+text), nil
	}
	return splice(d.src, le+n, le+n, text+eol), nil
}

// fillImages turns an empty "images:" into a list holding an entry for img.
func (d *document) fillImages(key *yaml.Node, img KustomizeImage) ([]byte, error) {
	off, err := d.nodeOffset(key)
	if err != nil {
		return nil, err
	}
	dash := key.Column - 1 + d.sequenceIndent()
	le, n := d.lineEnd(off)
	eol := d.eol()
	if n > 0 {
		eol = string(d.src[le : le+n])
	}
	text, err := imageText(img, false, dash, dash+2, eol)
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return splice(d.src, le, le, eol+text), nil
	}
	return splice(d.src, le+n, le+n, text+eol), nil
}

// appendImagesSection appends an images section holding an entry for img at
// the end of the file.
func (d *document) appendImagesSection(img KustomizeImage) ([]byte, error) {
	if err := d.checkAppendable(); err != nil {
		return nil, err
	}
	indent := 0
	if d.root != nil && len(d.root.Content) > 0 {
		indent = d.root.Content[0].Column - 1
	}
	dash := indent + d.sequenceIndent()
	eol := d.eol()
	entry, err := imageText(img, false, dash, dash+2, eol)
	if err != nil {
		return nil, err
	}
	text := strings.Repeat(" ", indent) + "images:" + eol + entry
	src := d.src
	switch {
	case len(bytes.TrimPrefix(src, utf8BOM)) == 0:
		text += eol
	case d.lineStart(len(src)) == len(src):
		// The file ends with a line break; keep ending with one.
		text += eol
	default:
		text = eol + text
	}
	return splice(src, len(src), len(src), text), nil
}

// checkAppendable refuses files where a key appended at the end would not
// become a new top-level key: explicit keys ("? key") and a document end
// marker ("...").
func (d *document) checkAppendable() error {
	if d.root != nil && len(d.root.Content) > 0 {
		// In a plain block mapping the mapping starts at its first key and
		// every key starts its line at the same column; "? key" breaks both.
		first := d.root.Content[0]
		for i := 0; i < len(d.root.Content); i += 2 {
			k := d.root.Content[i]
			off, err := d.nodeOffset(k)
			if err != nil {
				return err
			}
			if k.Kind != yaml.ScalarNode || isEmptyNull(k) || k.Column != first.Column ||
				(i == 0 && (d.root.Line != k.Line || d.root.Column != k.Column)) ||
				len(bytes.Trim(d.src[d.lineStart(off):off], " ")) != 0 {
				return fmt.Errorf("%w: the kustomization's top-level keys are not plain keys at line %d (explicit keys with ?, an anchor or a tag on the mapping); add the images section by hand", ErrUnsupported, k.Line)
			}
		}
	}
	if last := lastLeaf(d.root); last != nil && last.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 && d.lineStart(len(d.src)) != len(d.src) {
		// The line break in front of the new section would become part of
		// the block scalar's value.
		return fmt.Errorf("%w: the kustomization ends inside a block scalar (| or >) without a final line break; add one first", ErrUnsupported)
	}
	for i := len(d.lines) - 1; i >= 0; i-- {
		le, _ := d.lineEnd(d.lines[i])
		line := bytes.TrimRight(d.src[d.lines[i]:le], " \t")
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		if bytes.HasPrefix(line, []byte("...")) {
			return fmt.Errorf("%w: the kustomization ends with a document end marker (...); add the images section by hand", ErrUnsupported)
		}
		break
	}
	return nil
}

// lastLeaf returns the node whose text comes last in the tree under n.
func lastLeaf(n *yaml.Node) *yaml.Node {
	for n != nil && (n.Kind == yaml.MappingNode || n.Kind == yaml.SequenceNode) && len(n.Content) > 0 {
		n = n.Content[len(n.Content)-1]
	}
	return n
}

// sequenceIndent returns how far the dashes of the first top-level block
// list are indented from its key: 0 for kustomize's own style, 2 for
// "key:\n  - item".
func (d *document) sequenceIndent() int {
	if d.root == nil || d.root.Kind != yaml.MappingNode {
		return 0
	}
	for i := 0; i+1 < len(d.root.Content); i += 2 {
		v := d.root.Content[i+1]
		if v.Kind != yaml.SequenceNode || v.Style&yaml.FlowStyle != 0 || len(v.Content) == 0 {
			continue
		}
		if dash, _, ok := d.itemLayout(v.Content[0]); ok && dash >= d.root.Content[i].Column-1 {
			return dash - (d.root.Content[i].Column - 1)
		}
	}
	return 0
}

// verifyKustomize checks that out holds the same document as old except for
// the images list, which must read back as kustomize would have set it.
func verifyKustomize(old *document, out []byte, img KustomizeImage) error {
	edited, err := parseDocument(out)
	if err != nil {
		return fmt.Errorf("%w: the edited file does not parse (%v); the file was left unchanged, please report this", ErrVerificationFailed, err)
	}
	if edited.root == nil || edited.root.Kind != yaml.MappingNode {
		return fmt.Errorf("%w: the edited file is not a mapping; the file was left unchanged, please report this", ErrVerificationFailed)
	}
	oldRest, newRest := withoutKey(old.root, "images"), withoutKey(edited.root, "images")
	if len(oldRest) != len(newRest) {
		return fmt.Errorf("%w: keys other than images changed; the file was left unchanged, please report this", ErrVerificationFailed)
	}
	c := comparison{}
	for i := range oldRest {
		if err := c.compare(oldRest[i], newRest[i], ""); err != nil {
			return fmt.Errorf("%w: %v; the file was left unchanged, please report this", ErrVerificationFailed, err)
		}
	}
	var oldImages, newImages *yaml.Node
	if old.root != nil {
		_, oldImages = mappingLookup(old.root, "images")
	}
	_, newImages = mappingLookup(edited.root, "images")
	want, got := expectedImages(simplify(oldImages), img), simplify(newImages)
	if !reflect.DeepEqual(want, got) {
		return fmt.Errorf("%w: the images list reads back as %v instead of %v; the file was left unchanged, please report this", ErrVerificationFailed, got, want)
	}
	return nil
}

// withoutKey returns the keys and values of mapping m except key and its
// value.
func withoutKey(m *yaml.Node, key string) []*yaml.Node {
	if m == nil {
		return nil
	}
	var rest []*yaml.Node
	for i := 0; i+1 < len(m.Content); i += 2 {
		if k := m.Content[i]; k.Kind == yaml.ScalarNode && k.Value == key {
			continue
		}
		rest = append(rest, m.Content[i], m.Content[i+1])
	}
	return rest
}

// simplify turns a node tree into strings, []any and map[string]any,
// comparing scalars by their text so that a plain 1.25 equals "1.25".
func simplify(n *yaml.Node) any {
	if n == nil {
		return nil
	}
	switch n.Kind {
	case yaml.AliasNode:
		return simplify(n.Alias)
	case yaml.MappingNode:
		m := map[string]any{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			m[n.Content[i].Value] = simplify(n.Content[i+1])
		}
		return m
	case yaml.SequenceNode:
		s := []any{}
		for _, c := range n.Content {
			s = append(s, simplify(c))
		}
		return s
	}
	return n.Value
}

// expectedImages applies img to a simplified images list the way kustomize
// does.
func expectedImages(images any, img KustomizeImage) any {
	set, value, drop := img.fields()
	list, _ := images.([]any)
	matched := false
	for _, entry := range list {
		if m, ok := entry.(map[string]any); ok && m["name"] == img.Name {
			m[set] = value
			delete(m, drop)
			if img.NewName != "" {
				m["newName"] = img.NewName
			}
			matched = true
		}
	}
	if !matched {
		m := map[string]any{"name": img.Name, set: value}
		if img.NewName != "" {
			m["newName"] = img.NewName
		}
		list = append(list, m)
	}
	return list
}
