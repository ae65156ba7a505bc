package sdk_test

import (
	"fmt"
	"io/fs"

	"github.com/fusekit/fusekit/sdk"
)

// A filesystem that resolves names itself checks them with ValidName.
// Linux names are bytes: a Latin-1 name is valid, though io/fs.ValidPath
// refuses it.
func ExampleValidName() {
	for _, name := range []string{".", "docs/caf\xe9.txt", "../etc", "a//b"} {
		fmt.Printf("%q sdk:%v io/fs:%v\n", name, sdk.ValidName(name), fs.ValidPath(name))
	}
	// Output:
	// "." sdk:true io/fs:true
	// "docs/caf\xe9.txt" sdk:true io/fs:false
	// "../etc" sdk:false io/fs:false
	// "a//b" sdk:false io/fs:false
}
