raise ImportError("this plugin needs libfoo")
