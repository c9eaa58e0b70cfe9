package masking_test

import (
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/civic-platform/security/masking"
)

func ExampleEngine_Mask() {
	type Resident struct {
		ID    string      `iam:"key"`
		Name  string      // not tagged: never masked
		SIN   masking.SIN `iam:"crm.citizen.sin.view" mask:"sin"`
		Email string      `iam:"crm.citizen.email.view" mask:"email"`
		Phone string      `iam:"crm.citizen.phone.view" mask:"phone"`
	}
	eng, err := masking.New(masking.Options{})
	if err != nil {
		fmt.Println("new:", err)
		return
	}
	sin, err := masking.ParseSIN("046 454 286")
	if err != nil {
		fmt.Println("parse:", err)
		return
	}
	r := &Resident{ID: "R-17", Name: "Jane Doe", SIN: sin, Email: "jane.doe@example.ca", Phone: "613-555-0199"}

	// may would normally ask an iam decision; this caller holds one permission.
	may := func(perm string) bool { return perm == "crm.citizen.email.view" }
	viewed := func(v masking.View) { fmt.Printf("audit: %s read %s via %s\n", v.Key, v.Field, v.Permission) }

	if err := eng.Mask(r, may, viewed); err != nil {
		fmt.Println("mask:", err)
		return
	}
	fmt.Printf("%s %q %q %q %q\n", r.ID, r.Name, r.Email, r.Phone, r.SIN.Plain())
	// Output:
	// audit: R-17 read Email via crm.citizen.email.view
	// R-17 "Jane Doe" "jane.doe@example.ca" "***-***-0199" ""
}

func ExampleEngine_Marshal() {
	type Contact struct {
		Kind   string
		Email  string `iam:"crm.contact.email.view" mask:"email"`
		Postal string `iam:"crm.contact.address.view" mask:"postal"`
	}
	var eng masking.Engine // the zero Engine has the built-in masks
	contacts := []Contact{{Kind: "home", Email: "jane@example.ca", Postal: "K1A 0B1"}}

	body, err := eng.Marshal(contacts, nil, nil) // nil may: holds nothing
	if err != nil {
		fmt.Println("marshal:", err)
		return
	}
	fmt.Println(string(body))
	fmt.Println(contacts[0].Email) // the original is untouched
	// Output:
	// [{"Kind":"home","Email":"j***@example.ca","Postal":"K1A ***"}]
	// jane@example.ca
}

func ExampleEngine_Prepare() {
	type Bad struct {
		SIN string `iam:"crm.sin" mask:"sin"`
	}
	var eng masking.Engine
	err := eng.Prepare(Bad{})
	var te *masking.TagError
	switch {
	case errors.As(err, &te):
		fmt.Println("bad tag on field", te.Field)
	case err != nil:
		fmt.Println("prepare:", err)
	}
	// Output:
	// bad tag on field SIN
}

func ExampleSIN() {
	sin, err := masking.ParseSIN("046-454-286")
	if err != nil {
		fmt.Println("parse:", err)
		return
	}
	fmt.Println(sin)
	fmt.Printf("%v %+v %#v %q\n", sin, sin, sin, sin)

	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}))
	logger.Info("lookup", "sin", sin)

	// Disclosure is an explicit call, after an iam decision.
	fmt.Println(sin.Plain())
	// Output:
	// ***-***-***
	// ***-***-*** ***-***-*** masking.SIN{***-***-***} "***-***-***"
	// level=INFO msg=lookup sin=***-***-***
	// 046454286
}

func ExampleParseSIN() {
	for _, s := range []string{"046 454 286", "046 454 287", "０４６４５４２８６"} {
		_, err := masking.ParseSIN(s)
		switch {
		case errors.Is(err, masking.ErrInvalidSIN):
			fmt.Println("rejected:", err) // never shows the input
		case err != nil:
			fmt.Println("parse:", err)
		default:
			fmt.Println("ok")
		}
	}
	// Output:
	// ok
	// rejected: masking: invalid SIN: check digit does not match
	// rejected: masking: invalid SIN: want nine digits, optionally grouped three by three
}
