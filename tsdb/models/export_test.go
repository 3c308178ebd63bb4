package models

// NewDecoderParser returns a Parser that reads every line with the
// line-protocol/v2 decoder, never parseSimpleLine, for differential tests.
func NewDecoderParser() *Parser { return &Parser{decodeOnly: true} }
