package shellchain

import _ "mvdan.cc/sh/v3/interp"
