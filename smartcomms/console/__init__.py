"""The marketers' web console (`smartcomms console`): read-only pages over Redis.

``readings`` gathers the figures (counters, not scans), ``chains`` describes the
configured scenarios, ``strings`` holds the UI text in English and Russian, ``server``
answers HTTP and renders the pages in ``templates/``.
"""
