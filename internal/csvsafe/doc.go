// Package csvsafe writes CSV that a spreadsheet opens as data, never as
// formulas: the one CSV writer every export of the module goes through.
// Its [Reader] is the one CSV reader: bounded in size, with line numbers.
//
// A cell whose text a spreadsheet could read as a formula or a command
// (OWASP "CSV injection") is neutralised by prefixing it with a single
// quote ('), which spreadsheets show as text and do not evaluate. That is
// a cell whose first significant character is =, +, -, @, a tab, a
// carriage return or a line feed, or a character that stands for one of
// them: a compatibility form whose NFKC normalisation is one of them (＝ ﹦
// ＋ ﹢ － ﹣ ＠ ﹫ and the like), any dash (‐ – — ...) or the minus sign −.
// Characters before it that a reader does not see, or may strip, are not
// significant: Unicode white space (including no-break and ideographic
// spaces), control characters (NUL, ESC, ...), invisible format characters
// (zero-width spaces, the byte-order mark) and quotation marks other than the apostrophe, which already makes
// a spreadsheet read the cell as text. Every other cell is written
// unchanged.
package csvsafe
