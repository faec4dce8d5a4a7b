"""The TStreamerInfo records of a file of flat TTrees, as bytes (generated; do not edit).

Why a constant: :mod:`.rawfile` writes ``higgsCombine*.root`` files without importing uproot
(about 0.3 s of every command), but the file must describe its classes exactly as uproot's writer
does. These are the records uproot registers for a TTree of flat branches (``TLeafB/S/I/L/F/D/C/O``
v1, ``TBranch`` v13, ``TTree`` v20 and their bases, in uproot's order, as
:func:`pycombine.outputs.root.flat_tree._register_streamers` collects them), serialized one after
the other as they stand in the file's ``StreamerInfo`` TList. ``tests/test_raw_root_writer.py``
checks that they equal uproot's; regenerate them from there if uproot's ever change.
"""

from __future__ import annotations

#: (class name, class version) of every record, in order
STREAMER_CLASSES: tuple[tuple[str, int], ...] = (
    ('TString', 2),
    ('TObject', 1),
    ('TNamed', 1),
    ('TLeaf', 2),
    ('TLeafB', 1),
    ('TLeafS', 1),
    ('TLeafI', 1),
    ('TLeafL', 1),
    ('TLeafF', 1),
    ('TLeafD', 1),
    ('TLeafC', 1),
    ('TLeafO', 1),
    ('TCollection', 3),
    ('TSeqCollection', 0),
    ('TObjArray', 3),
    ('ROOT::TIOFeatures', 1),
    ('TAttFill', 2),
    ('TBranch', 13),
    ('TRefTable', 3),
    ('TBranchRef', 1),
    ('TList', 5),
    ('TAttMarker', 2),
    ('TAttLine', 2),
    ('TTree', 20),
)

#: number of bytes of every record, in order
STREAMER_SIZES: tuple[int, ...] = (105, 376, 461, 1289, 537, 539, 535, 545, 539, 541, 535, 537, 489, 250, 521, 229, 354, 3435, 853, 370, 241, 475, 463, 5238)

#: the records back to back, zlib-compressed and base64-encoded
STREAMERS_ZLIB_BASE64 = (
    "eNrtXGtsHNUVHj8SnIdJDE5IIA0XN8QPSCiPJGAIxHZs6uLYabxJaEISZnfueCeendnM3PXGgfJqIaSERwO0pQUKRaWqShFNKqEK"
    "qaIqIEolWqkSaqu2INGfiD+0P6rS0nPPvbM7szOz3lkHQio28Xoed/d895zvnHvvOXe8SVG0j+CVGmcOVXPUGbZ0W9mkKKPKPHhf"
    "ojTAP3g1wfsZvJFhTShKA1sO1xqhQSd+eCy9v89x1GkFP9IkPtKo+F+blAY3SlDDnihB8IU0w5SHznt5DVxrgGbrKwU1rKoU1Cjk"
    "KIcDcvpV18ikpvOU3zIRtK40w/slJZHwM0/fbhkHCnR48zIbZZMCnhNDoxYzdIM60KoVfpqVKq+FBcs1JiyqEcNiIOOOeCgUoexD"
    "KF1+KHP0foO5S9IGIyDW1IjLVFZwSdF2NLi9KBEGrqjXI/V+HPXe7tf73NQotNCUt1/80jVS7UdDaj9UqfYmqfZCZV+xm/uUJnjf"
    "jt1c7e+mZ+Q21ArZNjaWIkL1cLO/slOSCaVXc3/f+KDAqLCAYMlRuH4TangHil4V1DDvZ5s0dMDCffCzrJp2PSeA78zHyL0R5W5D"
    "ucQvd66eMphJF0rBjJ8kkQlfPqc5ypjN76Mxz/Ybc05qhKq6klt55zbhq82/qbRl84ueLUuSpC3vj7RlEW2Zw45dG+iYIE5PKktJ"
    "GszpEt12iEosflValXTxs4tFr7vhQwOV3ZS0i7TxI/GONI3qdhHVoB9Vsz5CrctHC7k0dYitgzcdBDQmtSZYllCT5sDuLjgJYQDb"
    "BGV1ukRTmbrW+3w1mzQJB68x1lzpx9XCcfFWHWVs6WlGhdZY1hAwCONfVDuUI/FQLISSRSi9ASfUx3TdpexC8YsrY8C0LeoiRUqW"
    "M3QCF7trB9PQHg/mXwjmAwTzSlAvw+421Zqgz3dtnExt2z5IQC63C8mqLrDJ4fcuJpNDfSPjg8QGqzlFw6XdawlJcaXBf3qgYEyp"
    "YGLwLpukKTgNfLCTf0nGLlisE9oOITXROwYFCZAA+O2gALBBTmWGbfHvUzOsoJrmNMRg26EeV1L90DiTlZ/mdDmL07SaWprTtm1C"
    "hx+M1wtDvViol+v8elkAetkuY/pqn2q8OB+hkiSQjgcgiaC81QYzQkCE2w8jrPsR1k1+WPN1rsIBrtbNsj1XOr9IUNkc45TqGGra"
    "pJ7bdRUp0Wxi2YzYRaFNbEudbhF5lJZqmOei2XqgYWN75Kj236hRjX+mX1m08oa9clT7Y2hUe60yEnqj2pHISOhiJDTCDiWibid/"
    "6yUadTOOkUcygY+rRPAm4N2hlwzYoSjIrfBAPHtcbBARm1v0LYZl5Aq5LvkbbGLyiY30Lcl7l7h5muHDoCaJU508mazq1I9IPSgQ"
    "id8nDxEnxtIoYsBkJYYY48qShe//ThLjzyFivH5aEKPGsDJ7YjSGJvYVrzlu1nZY/ZCSM6NGSJwEZ0XGjA/jqDGs3Lb/+eWSGm+F"
    "qPHKaUGN++Pt4GAD8yRRo9Z5Sp2AkhOjJkCcFisiI8bcOFqMKH+7rCUtafFOiBZvnha0OBZvhSI2OHCSaLF4pjG9ZcS2JtZfsY/V"
    "jyo5N2pHVceQMqT0/vUJ57MhpTZTzJnJTefopq1+okNKjZA4CZZFUqMxjhqblbYHDk9JavwlRI03TgtqPBRvhwI2sE8SNVpmXA9o"
    "dgFWF/VjSs6NWjHVMd8YUP797vEPPptv/L/PNxIuXceUxue/+IfPlq61WaHmvMcntnStDRE35d8jifEmEmO5nxgLUgO2adIMt4+y"
    "893fPs6vQ9NnQuz45qcuXT8dkzZXUem7UXR3OF2/lKePORdFzqjU+2Q5+7vijT6B8lWUf3lQ/rhxiBKrlKz1544DSGqNAMo/I2tu"
    "b6OhV/gNfWZqnB7w2fpD8+rXpAF/Fiq9fb/S1g2y6T2Rts6jrUWCekMg4ehj18ryIVHTLnPUDOM5frCBqbpuVCclH0PGb+KxL7J+"
    "0SDqF+f4ez6v3LUfP0m3SYK/GiL4ibjwl7DTFZo+D84K1MpQzF6WrUz6+geiOu0ZprLTSu1VwEuDSd8RuwiN7YKlLcNDkubHngeo"
    "2P/aR8Gj8RgOIIZJxLAxSPwR1WU9/M3jPKc8igaVWEyFsMwz7FY5FNTsAu9EusAbSITz/URo47Gmtzc1PDZEVVZwqKuc+/Qli2U0"
    "eSzkBYcrCeF5gRWvgnFUwRZUwZJggWR4jJdj+fmCmeJ4a6nyKnORDXsi2X49dnKpv5MtqT7GhgzTVD76U88xMWY2nB8ie2tczftg"
    "fN/2YN92Yt86gwl8LhAobzuL+BEYlqqc6raTKNNXv+xxNm1Sn2yXnydK6bXqURpu3Rq1qUBMYZTF3/7Gc9xY0Ky7UsGt51SSZ+mn"
    "tSI6HQkog4C+goB6AjMXj2DtZXWrDIbFdIHRyDAuiRg5m7s73uT7sYGGCNYHt1gM2Lk8uK97vnfA46lJpyjggcimmhO2Y7BsLkFY"
    "uyceyCQCoRHDmw7tJinjo/rKYctghmoSHOIhthJxj/QXdB13BNSK5Nl4JPcJnSGSnX4ki/RBiznTovg6Qq1eD82IqJbxorWvBWE4"
    "GMkqZFoATSNQNwHSr8UjzSLSNCK9wo90ob4TTEOFcs7FEUHKl9OiItxm1EoA45l4GPcijLsQxlgQBqpD1M3XDRQch49JlF/zgHSZ"
    "HJxtUaID0XEXjKipp9H9u5OmJB+PKI/2WTjS3Ikwb4ms2JYGq9XDY0SXxxgELFo0p9dk4PsYoBNadHkR+dqZxpfwSBgVB8pq3Iv4"
    "bgwHA6/sv0TyCucUJRUlsOG98cJzKHwChV8VVA6snQSRXOIto8qTa++OaxNd5Q44t0Ysh+Kx7EMsIipeFMQynjcNcD2IQWfJJa7L"
    "r4iwlEATt8RLvxml7woPgi3IZoO6beWNIFRcScrSR+PFH0LxDMX3BTs/ZDguQ4/qKiPgsUXnN6RfBf0nKbCn44Hdg8DuQGBbgiNF"
    "ymb9fEfMejiAcGhV7JPhk1AYxGDJPQVnaarzzRmZ8qCSFORT8SDvRpC3I8iRIMhdRh5BrqsFpKrz/RGzwHhfRByqzFVcFQQoCE3d"
    "jjXXkhHDRT/3roV9fqPcgBH7Kq/IQhufynBshCPSS+uCMWdEaMIHRupmllCOxEDxr2s2BP1OBpkLfFhkIJ4tmOfCVPJtpnkAIeXD"
    "vrhQQkJCde72hcg9vslACaPFBzc+U75opvDUDLJ7+HTXH3a9uTCgeKkq3id87L8hCi8Gj0uDeFM4S8ENd4EoQlWIrqILCt8SNwP5"
    "53nkrwb/RFX4jyL8IsIfiJwCUjrZE0Tfp2ncQwUtwwo/ObBfiMmBfUfUZhHwzUFnhmk75WuK4VGZB+OASDFLIfTJOSCf1Yudahrp"
    "6ujgWUlQu8vbY2PVJSmHUpKlqiY2XCXZetq0NWqp1dQblbrZRnVkgXL0yO67Reqmqa1ysdX4UeVia86pzk3OIj2oFXK5aZzgpdXM"
    "ZFF1NIz2KjPSBkwokuRqflF9R953EckjiGRfMK5tVfmE2B0WKRogibggteES0kUnSApJIKfDJGubGk/i4B5ICjTiSS9vierWsilv"
    "fsmoPaEpYQi8geAzCP4Lwc3RY0WLOivEJ/juQIEKQnGZTjWgaZFk4FieDLpZagTLIkgjMWvv9xDwbEOrvtWxM+D7128f3ux2bufv"
    "XIcpeZmfFlyxopCahktAnH/M5EVnTgEg27nGRV/y5vkbeUYnF5kh2olOtczvVPNl9ABdKJ+/+cR/ZD1oTShHdF6lVzXW61VCYJtX"
    "+pElIcwOhV4yqxLyqtaYAdpHCX/GoOKhDM/wy/LlDaa4AzcJI+aXWvONo8p7kYnHtyJ30MPcQDFe/fVL3M0/1pT7x5V9VkqV5EqK"
    "vRxFsT7GtqjOJNil+3P3vSfTkN8KUezrcUWlYnz89D+NsTo4lRAiMRG5UBzXkYWcjWjMQ3qiEyYhoxyrLHoXik6Fn0FZ4ImGsWOB"
    "JxmOE+0+aXgj0rQ/j8kvjxgWVR45Y3BYGjbBwz1ufBf9j7t0VGwQB4Fo1vn8qA6j1i8WTSrEJjdo/WJ3GhrLCrFFfpgomd1+IMqc"
    "7bujQhMfwxVHe+d2uNIOjULPx7WvqhwHLvi0prJZJKC9CEi4zoWhVDZX8SLUc/UstqR7ZBb7lKbQD0YKT6PwG8NFcF9sbpPhorps"
    "GcAjZZ/iZFU9md9yTujKqumWtJffmH1W6AfxMA8jzDsR5mh0VmhDbTBnnReqsQJyWUXaU52iGuJcXjanWmC2y28IrLPLUAWQ5BHJ"
    "/vC8p1UfMgtuVmJZEcSyRhf36oNT4/NwG4JJqp3UmMiyDlwiFfGYdLlwjAG3t3ecMtGiO9n2xHoezjtTTxk4DABDplRzJZ4RQ55y"
    "JuUgDhkuzdiWlqQAVOPOp+uCw9t4RrWG+APJnWUrOQWr5Gl5B0jM+KINkPHGCRDVs+4+Q9+e11RGV4pfRHfEnFkswjExNWLb+QQo"
    "fhqP4hiiOIoo9vpRLNU3U10tmOxUVPJeiAcsUl8PImA1yKrRAXArIBE+azlYNqa8XHoSkqiaZuCqQ666eFFNo7phoUuSzj7wUXTf"
    "zgRlmnqiKmbR5PCzLlwyksMQbsfiO5PgUsZwMgVTdXxKTRQ8Ho5HeRBROmEXafVQIu9WxeMEdeZFSiEprCfiYd2FsG5FWMPBIjMg"
    "2WE4/ElWvtq42APGcIByZeHbyyFO0jzu8snRnO1MJwX4q3iAzyLApxBgLjhmciLxEWlHnxyBCMP4m6UWKd0sqU+Wmgl4+Zry3S5v"
    "DKVatxxrQclaIZP8KZTX4jvxE+zED7ETTjA+lrxhV19p7KrsB96P74i4fRJ78lh8T24Ts9DwY/Pz9EGXGTkIqWtHo6hL5V2SNVxm"
    "TzhqjphGTuyRSgTul1Vz90/5gkGgOrhYD8QvS7tkdzCk7SFixxrWHXDzcsYf2dYmzuK3V8RMsfoCXL+v2oPj2IOHw3nahV4PuDsO"
    "htCPRgU2LJ54/RALsAljCshzsvt0In6/g786sSNuv8NG/34HoIsYMHw7HzzWe7UVvvXHmw6frG0Q5SKgf1dxZ3R5dHFlbTRx0e9Y"
    "jHB/6X1TVDH0os2Gw5fPMr2JCjMszZgyNIjWUi2yTJoY1Y+qp139S60vB1d6faYB46h7tacYVZyjEelBb6Xi4j5gjRfH+OyAlasK"
    "wpC1PM0PAnpCO2QDpPPvkF0T9KJhS6MHd/AN+O7Z47bDMDUPl8SmfFdyaYb6FmprM3z5V+MxpBHDTeGUwFyBYSm+c025AkZiAMPc"
    "varby/93TnqDQw93XYTQsTWYJ0ebCHD8j3io1nRNf2bhzJScL+BHe0JLhhA2f9W/4m+dDEEEg+VJhy+Db0pa6XirtJ0+GWWerY7I"
    "P5fcWvGXnlyRW7vKB0ktgSq4PPbKepnqunbGwI1aqFFDVFCTIf1edaS3ItKpcJCYr5cqPl3e3qRCPg8M8+p1pcJGIusuKFeSepT/"
    "AbZChYQ="
)
