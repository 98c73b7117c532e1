from rbk import hookimpl


@hookimpl
def rbk_actoins(register):  # misspelled on purpose
    pass
