package v1alpha1

// RouterSafeTextPattern is the one definition of text that may be written
// into a router's configuration (a neighbor description): printable ASCII
// without the characters router CLIs give a meaning to (quotes, backquote,
// ; | # ! backslash { } $ < >). Such text is refused, never escaped, so it
// means the same on every platform; bidi and other non-ASCII characters are
// refused too. The CRD carries it as a CEL rule on spec.description (a test
// checks the generated CRD against this constant), the drivers check it
// with router.SafeText, and `kubectl peering validate` evaluates the CRD.
// The leading ']' is a literal in RE2 (CEL's and Go's regexp syntax).
const RouterSafeTextPattern = `^[] %&(-:=?-[^_a-z~]*$`

// RouterSafeTextMessage says what RouterSafeTextPattern allows; the CRD's
// rule message for spec.description is "description " + this.
const RouterSafeTextMessage = "must be printable ASCII without quotes, backquotes, backslashes or any of ; | # ! { } $ < > (router CLIs treat them specially)"
