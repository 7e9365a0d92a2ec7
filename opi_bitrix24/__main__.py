"""``python -m opi_bitrix24 <Method> --<option> value ...``"""

from ._cli import run

run()
