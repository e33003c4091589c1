"""The action table of the DICOM PS3.15 Annex E Basic Application Level Confidentiality Profile.

Each listed attribute carries the action code of Table E.1-1 (Basic Profile column). Where the
standard offers a choice (``X/Z/D`` …) the code below is the one applied, always the stricter
removal unless the attribute is Type 1/2 in common IODs and must stay present (then ``Z``):

* ``D`` replace with a dummy value of the same VR
* ``Z`` replace with a zero-length value (``PatientID`` takes the study-local pseudonym, which
  the profile allows as a dummy value)
* ``X`` remove
* ``K`` keep
* ``C`` clean: keep only what carries no identity (dates shifted per patient when the
  *Retain Longitudinal Temporal Information with Modified Dates* option is configured)
* ``U`` replace with a non-zero-length UID that is consistent within the dataset

Attributes the table does not list are still handled by VR (see ``profile.py``): every person
name is emptied, every instance UID that is not a well-known DICOM UID is remapped, every date
is shifted or removed, and every private element is removed.
"""

from __future__ import annotations

import enum
from types import MappingProxyType


class Action(enum.Enum):
    """A PS3.15 Table E.1-1 action code."""

    DUMMY = "D"
    ZERO = "Z"
    REMOVE = "X"
    KEEP = "K"
    CLEAN = "C"
    UID = "U"


_D, _Z, _X, _K, _C, _U = (
    Action.DUMMY,
    Action.ZERO,
    Action.REMOVE,
    Action.KEEP,
    Action.CLEAN,
    Action.UID,
)

# tag -> (keyword, action). The keyword is repeated only so that the table reads as the
# standard does; a test checks that it matches pydicom's dictionary.
_TABLE: dict[int, tuple[str, Action]] = {
    # Dates and times: "C" here means shift when the date option is on, else the profile's
    # own Z / X (see DATE_FALLBACK).
    0x00080012: ("InstanceCreationDate", _C),
    0x00080013: ("InstanceCreationTime", _C),
    0x00080020: ("StudyDate", _C),
    0x00080021: ("SeriesDate", _C),
    0x00080022: ("AcquisitionDate", _C),
    0x00080023: ("ContentDate", _C),
    0x0008002A: ("AcquisitionDateTime", _C),
    0x00080030: ("StudyTime", _C),
    0x00080031: ("SeriesTime", _C),
    0x00080032: ("AcquisitionTime", _C),
    0x00080033: ("ContentTime", _C),
    0x00400244: ("PerformedProcedureStepStartDate", _C),
    0x00400245: ("PerformedProcedureStepStartTime", _C),
    0x00400250: ("PerformedProcedureStepEndDate", _C),
    0x00400251: ("PerformedProcedureStepEndTime", _C),
    # Identifiers of the study and the patient.
    0x00080050: ("AccessionNumber", _Z),
    0x00080201: ("TimezoneOffsetFromUTC", _X),
    0x00200010: ("StudyID", _Z),
    0x00100010: ("PatientName", _Z),
    0x00100020: ("PatientID", _Z),
    0x00100021: ("IssuerOfPatientID", _X),
    0x00100030: ("PatientBirthDate", _Z),
    0x00100032: ("PatientBirthTime", _X),
    0x00100040: ("PatientSex", _Z),
    0x00101000: ("OtherPatientIDs", _X),
    0x00101001: ("OtherPatientNames", _X),
    0x00101002: ("OtherPatientIDsSequence", _X),
    0x00101005: ("PatientBirthName", _X),
    0x00101010: ("PatientAge", _X),
    0x00101020: ("PatientSize", _X),
    0x00101030: ("PatientWeight", _X),
    0x00101040: ("PatientAddress", _X),
    0x00101060: ("PatientMotherBirthName", _X),
    0x00101080: ("MilitaryRank", _X),
    0x00101081: ("BranchOfService", _X),
    0x00101090: ("MedicalRecordLocator", _X),
    0x00102154: ("PatientTelephoneNumbers", _X),
    0x00102160: ("EthnicGroup", _X),
    0x00102180: ("Occupation", _X),
    0x001021B0: ("AdditionalPatientHistory", _X),
    0x00104000: ("PatientComments", _X),
    0x00380010: ("AdmissionID", _X),
    0x00380300: ("CurrentPatientLocation", _X),
    0x00380500: ("PatientState", _X),
    0x00401001: ("RequestedProcedureID", _X),
    0x00400253: ("PerformedProcedureStepID", _X),
    0x00400254: ("PerformedProcedureStepDescription", _X),
    0x00400241: ("PerformedStationAETitle", _X),
    0x00400242: ("PerformedStationName", _X),
    0x00400243: ("PerformedLocation", _X),
    0x00400275: ("RequestAttributesSequence", _X),
    0x0040A730: ("ContentSequence", _X),
    # People and places.
    0x00080080: ("InstitutionName", _X),
    0x00080081: ("InstitutionAddress", _X),
    0x00081040: ("InstitutionalDepartmentName", _X),
    0x00080090: ("ReferringPhysicianName", _Z),
    0x00080092: ("ReferringPhysicianAddress", _X),
    0x00080094: ("ReferringPhysicianTelephoneNumbers", _X),
    0x00081048: ("PhysiciansOfRecord", _X),
    0x00081050: ("PerformingPhysicianName", _X),
    0x00081060: ("NameOfPhysiciansReadingStudy", _X),
    0x00081070: ("OperatorsName", _X),
    0x00321032: ("RequestingPhysician", _X),
    0x00081010: ("StationName", _X),
    0x00181000: ("DeviceSerialNumber", _X),
    # Free text that often names the patient or the site.
    0x00081030: ("StudyDescription", _X),
    0x0008103E: ("SeriesDescription", _X),
    0x00081080: ("AdmittingDiagnosesDescription", _X),
    0x00082111: ("DerivationDescription", _X),
    0x00181030: ("ProtocolName", _X),
    0x00204000: ("ImageComments", _X),
    0x00321060: ("RequestedProcedureDescription", _X),
    0x00081120: ("ReferencedPatientSequence", _X),
    # More free text, places and order numbers the profile removes (Table E.1-1, "X").
    0x00184000: ("AcquisitionComments", _X),
    0x00324000: ("StudyComments", _X),
    0x00402400: ("ImagingServiceRequestComments", _X),
    0x00401400: ("RequestedProcedureComments", _X),
    0x00400280: ("CommentsOnThePerformedProcedureStep", _X),
    0x00321030: ("ReasonForStudy", _X),
    0x00401002: ("ReasonForTheRequestedProcedure", _X),
    0x00384000: ("VisitComments", _X),
    0x00084000: ("IdentifyingComments", _X),
    0x00209158: ("FrameComments", _X),
    0x20300020: ("TextString", _X),
    0x40004000: ("TextComments", _X),
    0x0040A160: ("TextValue", _X),
    0x00400007: ("ScheduledProcedureStepDescription", _X),
    0x00380400: ("PatientInstitutionResidence", _X),
    0x00102150: ("CountryOfResidence", _X),
    0x00102152: ("RegionOfResidence", _X),
    0x00102299: ("ResponsibleOrganization", _X),
    0x00102155: ("PatientTelecomInformation", _X),
    0x00401102: ("PersonAddress", _X),
    0x00401103: ("PersonTelephoneNumbers", _X),
    0x00401104: ("PersonTelecomInformation", _X),
    0x00402016: ("PlacerOrderNumberImagingServiceRequest", _X),
    0x00402017: ("FillerOrderNumberImagingServiceRequest", _X),
    0x00400009: ("ScheduledProcedureStepID", _X),
    0x00401005: ("RequestedProcedureLocation", _X),
    0x00400001: ("ScheduledStationAETitle", _X),
    0x00400010: ("ScheduledStationName", _X),
    0x00400011: ("ScheduledProcedureStepLocation", _X),
    0x00402009: ("OrderEntererLocation", _X),
    0x00402010: ("OrderCallbackPhoneNumber", _X),
    0x001021F0: ("PatientReligiousPreference", _X),
    0x00102000: ("MedicalAlerts", _X),
    0x00102110: ("Allergies", _X),
    0x00380050: ("SpecialNeeds", _X),
    # A birth date written in another calendar is text (LO) that date handling never sees.
    0x00100033: ("PatientBirthDateInAlternativeCalendar", _X),
    0x00100034: ("PatientDeathDateInAlternativeCalendar", _X),
    0x00100035: ("PatientAlternativeCalendar", _X),
    0x00380060: ("ServiceEpisodeID", _X),
    0x00380062: ("ServiceEpisodeDescription", _X),
    0x00101050: ("InsurancePlanIdentification", _X),
    0x00380004: ("ReferencedPatientAliasSequence", _X),
    0x00081110: ("ReferencedStudySequence", _X),
    0x00101100: ("ReferencedPatientPhotoSequence", _X),
    0x00081111: ("ReferencedPerformedProcedureStepSequence", _X),
    # UIDs: consistent replacement.
    0x00020003: ("MediaStorageSOPInstanceUID", _U),
    0x00080014: ("InstanceCreatorUID", _U),
    0x00080018: ("SOPInstanceUID", _U),
    0x00081155: ("ReferencedSOPInstanceUID", _U),
    0x00083010: ("IrradiationEventUID", _U),
    0x0020000D: ("StudyInstanceUID", _U),
    0x0020000E: ("SeriesInstanceUID", _U),
    0x00200052: ("FrameOfReferenceUID", _U),
    0x00200200: ("SynchronizationFrameOfReferenceUID", _U),
    0x0040A124: ("UID", _U),
    0x00880140: ("StorageMediaFileSetUID", _U),
    0x30060024: ("ReferencedFrameOfReferenceUID", _U),
    0x300600C2: ("RelatedFrameOfReferenceUID", _U),
    # Kept on purpose: needed to read the pixels and not identifying.
    0x00080060: ("Modality", _K),
    0x00080016: ("SOPClassUID", _K),
    0x00280301: ("BurnedInAnnotation", _K),
}

ACTIONS: MappingProxyType[int, tuple[str, Action]] = MappingProxyType(_TABLE)
"""Tag -> (keyword, action) for every attribute the profile lists and medfed applies."""

# Without the date option the profile's own code applies to the "C" dates above: Z for the
# Type 2 study date/time (they must stay present), X for the rest.
DATE_FALLBACK: MappingProxyType[int, Action] = MappingProxyType({0x00080020: _Z, 0x00080030: _Z})

# Repeating groups removed whole: curve data (50xx) and overlays (60xx). The profile lists
# Overlay Data and Overlay Comments (60xx,3000 / 60xx,4000); the rest of an overlay group is
# removed too, since without its data it describes nothing, and an Overlay Bit Position left
# behind points at pixel bits that are cleared (see ``pixels.py``).
REMOVED_GROUP_RANGES: tuple[tuple[int, int, int], ...] = (
    (0x5000, 0x50FF, -1),  # any element of a curve group
    (0x6000, 0x60FF, -1),  # any element of an overlay group
)


# File meta elements that carry a vendor's private payload (an OB no text check can read):
# private data by another name, removed and refused like private elements.
META_PRIVATE_TAGS = frozenset({0x00020100, 0x00020102})  # creator UID, private information


def action_for(tag: int) -> Action | None:
    """The table's action for ``tag``, the repeating-group removals included, or ``None``."""
    entry = _TABLE.get(tag)
    if entry is not None:
        return entry[1]
    group, element = tag >> 16, tag & 0xFFFF
    for low, high, elem in REMOVED_GROUP_RANGES:
        if low <= group <= high and group % 2 == 0 and elem in (-1, element):
            return Action.REMOVE
    return None
