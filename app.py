"""cnnedu — the Streamlit app. Run it with `./run.sh app` (or `streamlit run app.py`).

This file only sets up the page and the navigation (cnnedu/ui/nav.py); each page is a short script in pages/.
"""

from cnnedu.ui.nav import frame

frame().run()
