// A small typed dictionary: Simplified Chinese by default, English by the switch. The choice is
// kept in localStorage and <html lang> follows it.
import { computed, ref, watch } from 'vue'

export type Lang = 'zh' | 'en'

const zh = {
  appTitle: '城市更新精细化管理决策系统',
  appSubtitle: '更新 Gengxin · 一张图',
  langSwitch: 'English',
  langSwitchLabel: '切换到英文',
  breadcrumbs: '当前位置',
  back: '返回上级',
  adminTab: '行政区划',
  renewalTab: '更新对象',
  children: '下级区划',
  noChildren: '没有下级区划',
  loading: '加载中…',
  loadFailed: '加载失败',
  retry: '重试',
  pickDistrict: '请先选择一个区，查看其更新对象',
  objectsOf: '更新对象',
  parcelsOf: '所含地块',
  noObjects: '没有更新对象',
  noParcels: '没有地块',
  layers: '图层',
  legend: '图例',
  generated: '生成',
  generatedData: '生成数据',
  generatedTitle: '演示用生成数据，非真实数据',
  someGenerated: '含生成数据',
  realSource: '数据来源',
  close: '关闭',
  detail: '详细信息',
  attributes: '属性',
  projects: '更新项目',
  noProjects: '没有关联项目',
  stage: '阶段',
  progress: '进度',
  milestones: '项目节点',
  reports: '进度填报',
  attachments: '附件',
  noAttachments: '没有附件',
  download: '下载',
  chartKinds: '更新对象类型',
  chartLandUse: '地块用地构成（面积）',
  chartEmpty: '暂无数据',
  count: '个',
  hectares: '公顷',
  within: '所在区划',
  showPanel: '展开面板',
  hidePanel: '收起面板',
  zoomIn: '放大查看',
  tilesMissing: '矢量切片服务不可用，地图仅显示行政区划',
  features: '要素',
  database_renewal: '城市更新库',
  database_community: '社区治理库',
  database_custom: '自定义图层',
  communityBounds: '社区/村界',
  basemap: '底图',
  floors: '层',
  floorsLegend: '建筑层数',
  level_city: '市',
  level_district: '区',
  level_street: '街道/乡镇',
  level_community: '社区/村',
  fg_education: '教育',
  fg_health: '医疗卫生',
  fg_sports: '体育健身',
  fg_culture: '文化',
  fg_service: '社区服务',
  fg_elderly: '养老',
  fg_commerce: '商业服务',
  fg_municipal: '市政公用',
  fg_safety: '公共安全',
  fg_transport: '交通',
  fg_park: '公园',
  rs_open: '办理中',
  rs_closed: '已结案',
  yes: '是',
  no: '否',
  idLabel: '编号',
  provenance: '数据来源',
  updatedAt: '更新时间',
  version: '版本',
  openDetail: '查看详情',
  zoomTo: '定位',
} as const

export type MessageKey = keyof typeof zh
type Messages = Record<MessageKey, string>

const en: Messages = {
  appTitle: 'Gengxin urban renewal decision support',
  appSubtitle: 'Gengxin (更新) · one map',
  langSwitch: '中文',
  langSwitchLabel: 'Switch to Chinese',
  breadcrumbs: 'You are here',
  back: 'Up one level',
  adminTab: 'Administrative units',
  renewalTab: 'Renewal objects',
  children: 'Sub-units',
  noChildren: 'No sub-units',
  loading: 'Loading…',
  loadFailed: 'Could not load',
  retry: 'Retry',
  pickDistrict: 'Choose a district first to see its renewal objects',
  objectsOf: 'Renewal objects',
  parcelsOf: 'Parcels',
  noObjects: 'No renewal objects',
  noParcels: 'No parcels',
  layers: 'Layers',
  legend: 'Legend',
  generated: 'generated',
  generatedData: 'generated data',
  generatedTitle: 'Generated demo data, not real data',
  someGenerated: 'contains generated data',
  realSource: 'Source',
  close: 'Close',
  detail: 'Details',
  attributes: 'Attributes',
  projects: 'Renewal projects',
  noProjects: 'No linked projects',
  stage: 'Stage',
  progress: 'Progress',
  milestones: 'Milestones',
  reports: 'Progress reports',
  attachments: 'Attachments',
  noAttachments: 'No attachments',
  download: 'Download',
  chartKinds: 'Renewal objects by kind',
  chartLandUse: 'Parcel land use (area)',
  chartEmpty: 'No data',
  count: '',
  hectares: 'ha',
  within: 'Within',
  showPanel: 'Show panel',
  hidePanel: 'Hide panel',
  zoomIn: 'Zoom in to see',
  tilesMissing: 'Vector tiles unavailable: the map shows administrative units only',
  features: 'features',
  database_renewal: 'Urban renewal database',
  database_community: 'Community governance database',
  database_custom: 'Custom layers',
  communityBounds: 'Community / village boundaries',
  basemap: 'Basemap',
  floors: 'floors',
  floorsLegend: 'Building floors',
  level_city: 'city',
  level_district: 'district',
  level_street: 'street / town',
  level_community: 'community / village',
  fg_education: 'Education',
  fg_health: 'Health care',
  fg_sports: 'Sports',
  fg_culture: 'Culture',
  fg_service: 'Community service',
  fg_elderly: 'Elderly care',
  fg_commerce: 'Shops and markets',
  fg_municipal: 'Municipal',
  fg_safety: 'Public safety',
  fg_transport: 'Transport',
  fg_park: 'Parks',
  rs_open: 'in progress',
  rs_closed: 'closed',
  yes: 'yes',
  no: 'no',
  idLabel: 'ID',
  provenance: 'Source',
  updatedAt: 'Updated',
  version: 'Version',
  openDetail: 'Details',
  zoomTo: 'Zoom to',
}

const messages: Record<Lang, Messages> = { zh, en }

/// English titles of fields (the catalogue carries Chinese titles only).
const fieldTitlesEn: Record<string, string> = {
  code: 'Code',
  name: 'Name',
  level: 'Level',
  kind: 'Kind',
  parent_code: 'Parent code',
  area_m2: 'Area (m²)',
  code_source: 'Code source',
  district_code: 'District',
  street_code: 'Street',
  community_code: 'Community / village',
  building_area_m2: 'Floor area (m²)',
  households: 'Households',
  build_year: 'Built',
  land_use: 'Land use',
  far: 'FAR',
  building_density: 'Building density',
  green_ratio: 'Green ratio',
  planned_use: 'Planned use',
  planned_far: 'Planned FAR',
  renewal_object_id: 'Renewal object',
  parcel_id: 'Parcel',
  floors: 'Floors',
  height_m: 'Height (m)',
  year_built: 'Year built',
  structure: 'Structure',
  use: 'Use',
  footprint_m2: 'Footprint (m²)',
  class: 'Class',
  width_m: 'Width (m)',
  plan_kind: 'Plan',
  plan_year: 'Plan year',
  stage: 'Stage',
  entity: 'Implementing entity',
  investment_total_wan: 'Total investment (10k yuan)',
  investment_done_wan: 'Investment done (10k yuan)',
  progress_pct: 'Progress (%)',
  start_date: 'Start',
  planned_end_date: 'Planned end',
  actual_end_date: 'Actual end',
  parcel_ids: 'Linked parcels',
  project_id: 'Project',
  seq: 'No.',
  planned_date: 'Planned',
  actual_date: 'Actual',
  status: 'Status',
  period: 'Period',
  report_date: 'Reported',
  note: 'Note',
  reported_by: 'Reported by',
  file_name: 'File',
  media_type: 'Type',
  size_bytes: 'Size (bytes)',
  description: 'Description',
  category: 'Category',
  tier: 'Life circle',
  capacity: 'Capacity',
  floor_area_m2: 'Floor area (m²)',
  address: 'Address',
  anonymous: 'Anonymous',
  closed_at: 'Closed',
}

function initialLang(): Lang {
  try {
    const saved = localStorage.getItem('gengxin.lang')
    if (saved === 'zh' || saved === 'en') return saved
  } catch {
    // Storage may be disabled; Chinese is the default.
  }
  return 'zh'
}

export const lang = ref<Lang>(initialLang())

function apply(l: Lang) {
  document.documentElement.lang = l === 'zh' ? 'zh-CN' : 'en'
  document.title = messages[l].appTitle
}
apply(lang.value)

watch(lang, (l) => {
  try {
    localStorage.setItem('gengxin.lang', l)
  } catch {
    // Not remembered, still switched.
  }
  apply(l)
})

export function toggleLang() {
  lang.value = lang.value === 'zh' ? 'en' : 'zh'
}

export function t(key: MessageKey): string {
  return messages[lang.value][key]
}

/// A field's title: the catalogue's Chinese title, or its English one.
export function fieldTitle(name: string, titleZh: string | undefined): string {
  if (lang.value === 'zh') return titleZh ?? name
  return fieldTitlesEn[name] ?? name.replace(/_/g, ' ')
}

/// The name of a code in the current language.
export function codeLabel(c: { zh: string; en: string }): string {
  return lang.value === 'zh' ? c.zh : c.en
}

export const isZh = computed(() => lang.value === 'zh')
